from services.billing.invoice import total


def test_total_in_cents():
    assert total([(2, 150), (1, 99)]) == 399
