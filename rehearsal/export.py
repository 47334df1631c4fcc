"""Placeholder: replaced by the snapshot-export controller."""


class ExportController:
    def __init__(self, source, aws) -> None:
        self._source, self._aws = source, aws

    def install(self) -> None:
        pass

    def uninstall(self) -> None:
        pass
