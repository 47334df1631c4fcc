"""The rehearsal estate: local stand-ins for the production estate.

MariaDB blue/green with real binlogs stands in for Aurora MySQL, PostgreSQL for
Redshift, a moto server (made faithful by our controllers) for the AWS control
plane, and a binlog applier for DMS. Tests and ``make demo`` use it; nothing in
``dags/`` or ``plugins/`` imports it.
"""
