__version__ = "1.0.0.dev0"
__version_info__ = (1, 0, 0, "dev0")
__build_time__ = ""
