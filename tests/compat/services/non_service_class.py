class NotAService(object):
    name = "not_a_service"

    async def _start_service(self) -> None:
        pass
