import tomodachi


class ExceptionService(tomodachi.Service):
    name = "compat_exception"

    async def _start_service(self) -> None:
        raise Exception("fail in _start_service()")
