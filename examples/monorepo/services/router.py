def route(path: str) -> str:
    return path.strip("/").split("/")[0] or "home"
