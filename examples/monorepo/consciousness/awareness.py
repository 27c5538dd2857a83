"""A toy module whose tests cover only a small part of it."""


def attention(signals: list[float]) -> float:
    return max(signals) if signals else 0.0


def reflect(state: dict[str, float]) -> dict[str, float]:
    total = sum(state.values())
    if total == 0:
        return dict(state)
    return {k: v / total for k, v in state.items()}


def dream(seed: int, steps: int) -> list[int]:
    values, x = [], seed
    for _ in range(steps):
        x = (x * 1103515245 + 12345) % 2**31
        values.append(x % 100)
    return values


def wake(values: list[int]) -> str:
    if not values:
        return "asleep"
    if sum(values) / len(values) > 50:
        return "alert"
    return "drowsy"
