from memory.store import Store


def test_the_oldest_item_is_forgotten_past_capacity():
    store = Store(2)
    for item in ("a", "b", "c"):
        store.remember(item)
    assert store.recall() == ["b", "c"]
