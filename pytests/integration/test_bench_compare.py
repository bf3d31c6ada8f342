"""bench/compare's parsing of redis-benchmark output (the benchmark itself is not a test)."""
import importlib.machinery
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_compare():
    path = os.path.join(ROOT, "bench", "compare")
    loader = importlib.machinery.SourceFileLoader("bench_compare", path)
    spec = importlib.util.spec_from_loader("bench_compare", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


CSV_LRANGE = '''"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"LPUSH (needed to benchmark LRANGE)","625000.00","1.016","0.304","0.863","2.239","2.871","3.071"
"LRANGE_100 (first 100 elements)","155038.77","3.174","0.512","2.607","5.431","6.911","8.095"
'''

CSV_MSET = '''"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"MSET (10 keys)","324324.31","2.1","0.3","2.0","3.0","4.0","5.0"
'''


def test_lrange_rate_is_not_the_preparatory_lpush():
    m = load_compare()
    assert m.rate_from_csv(CSV_LRANGE, "lrange_100") == 155038.77
    assert m.rate_from_csv(CSV_LRANGE, "lpush") == 625000.0
    assert m.rate_from_csv(CSV_MSET, "mset") == 324324.31
    assert m.rate_from_csv(CSV_MSET, "set") is None
    assert m.rate_from_csv("", "get") is None


def test_median_of_rounds():
    m = load_compare()
    assert m.median([3.0, 1.0, 2.0]) == 2.0
    assert m.median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert m.median([1.0, None]) is None
