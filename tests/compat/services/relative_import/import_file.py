def noop() -> str:
    return "relative import works"
