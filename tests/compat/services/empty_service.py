import tomodachi


class EmptyService(tomodachi.Service):
    name = "compat_empty"
