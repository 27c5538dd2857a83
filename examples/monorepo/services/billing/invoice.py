def total(lines: list[tuple[int, int]]) -> int:
    """Sum of quantity x unit price, in cents."""
    return sum(quantity * price for quantity, price in lines)
