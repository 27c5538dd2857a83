from identity.tokens import token


def test_token_latency(benchmark):
    # Fixed rounds: a steady number of samples for the p50/p95/p99 the gate reads.
    result = benchmark.pedantic(token, args=("ada",), rounds=40, iterations=5, warmup_rounds=2)
    assert len(result) == 16
