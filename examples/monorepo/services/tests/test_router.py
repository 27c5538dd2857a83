from services.router import route


def test_route_takes_the_first_segment():
    assert route("/billing/invoices") == "billing"
    assert route("/") == "home"
