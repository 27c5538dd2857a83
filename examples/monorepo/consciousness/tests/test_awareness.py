from consciousness.awareness import attention


def test_attention_picks_the_strongest_signal():
    assert attention([0.1, 0.7, 0.3]) == 0.7
