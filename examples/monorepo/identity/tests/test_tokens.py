from identity.tokens import token, valid


def test_tokens_are_stable_and_valid():
    assert token("ada") == token("ada")
    assert valid(token("ada"))
    assert not valid("xyz")
