"""The product schema the estate replicates: the same tables in MariaDB and in the warehouse."""

from __future__ import annotations

SOURCE_DATABASE = "shop"
TABLES = ("customers", "orders")

SOURCE_DDL = (
    f"CREATE DATABASE {SOURCE_DATABASE}",
    f"""CREATE TABLE {SOURCE_DATABASE}.customers (
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(64) NOT NULL,
        email VARCHAR(128) NULL,
        created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
    ) ENGINE=InnoDB""",
    f"""CREATE TABLE {SOURCE_DATABASE}.orders (
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        customer_id BIGINT NOT NULL,
        amount DECIMAL(12,2) NOT NULL,
        status VARCHAR(16) NOT NULL,
        note VARCHAR(255) NULL,
        updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
    ) ENGINE=InnoDB""",
)

# Redshift does not enforce primary keys, so neither does the stand-in: a CDC
# restart from too early a position really duplicates rows instead of failing.
WAREHOUSE_DDL = (
    f"CREATE SCHEMA {SOURCE_DATABASE}",
    f"""CREATE TABLE {SOURCE_DATABASE}.customers (
        id BIGINT NOT NULL, name VARCHAR(64) NOT NULL, email VARCHAR(128),
        created_at TIMESTAMP NOT NULL)""",
    f"CREATE INDEX customers_id ON {SOURCE_DATABASE}.customers (id)",
    f"""CREATE TABLE {SOURCE_DATABASE}.orders (
        id BIGINT NOT NULL, customer_id BIGINT NOT NULL, amount NUMERIC(12,2) NOT NULL,
        status VARCHAR(16) NOT NULL, note VARCHAR(255), updated_at TIMESTAMP(6) NOT NULL)""",
    f"CREATE INDEX orders_id ON {SOURCE_DATABASE}.orders (id)",
)

# Emulation of the RDS stored procedures the runbooks call (binlog retention).
RDS_PROCEDURES = (
    """CREATE TABLE mysql.rds_configuration (
        name VARCHAR(100) NOT NULL PRIMARY KEY, value VARCHAR(100) NULL, description VARCHAR(300) NOT NULL)""",
    """INSERT INTO mysql.rds_configuration VALUES
        ('binlog retention hours', NULL,
         'binlog retention hours specifies the duration in hours before binary logs are automatically deleted.'),
        ('source delay', '0',
         'source delay specifies replication delay in seconds between current instance and its master.'),
        ('target delay', '0',
         'target delay specifies replication delay in seconds between current instance and its future '
         'read-replica.')""",
    """CREATE DEFINER='root'@'localhost' PROCEDURE mysql.rds_show_configuration()
        SQL SECURITY DEFINER
        SELECT name, value, description FROM mysql.rds_configuration""",
    """CREATE DEFINER='root'@'localhost' PROCEDURE mysql.rds_set_configuration(IN p_name VARCHAR(100), IN p_value INT)
        SQL SECURITY DEFINER
        BEGIN
          IF (SELECT COUNT(*) FROM mysql.rds_configuration WHERE name = p_name) = 0 THEN
            SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'Invalid configuration name';
          END IF;
          UPDATE mysql.rds_configuration SET value = p_value WHERE name = p_name;
        END""",
)
