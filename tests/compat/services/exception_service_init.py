import tomodachi


class ExceptionServiceInit(tomodachi.Service):
    name = "compat_exception_init"

    def __init__(self) -> None:
        raise Exception("fail in __init__()")

    async def _start_service(self) -> None:
        pass
