"""A tiny bounded store, fully tested."""


class Store:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.items: list[str] = []

    def remember(self, item: str) -> None:
        self.items.append(item)
        if len(self.items) > self.capacity:
            self.items.pop(0)

    def recall(self) -> list[str]:
        return list(self.items)
