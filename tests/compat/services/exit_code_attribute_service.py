import tomodachi


class ExitCodeAttributeService(tomodachi.Service):
    name = "compat_exit_code_attribute"

    async def _started_service(self) -> None:
        tomodachi.SERVICE_EXIT_CODE = 7
        tomodachi.exit()
