"""The dirty counter (INFO persistence rdb_changes_since_last_save) after every write,
side by side with redis-server: it drives save points and whether a command propagates,
so a write that changes nothing must not count (SETBIT/BITFIELD to the same value, an
empty SINTERSTORE, HSET of the same value ...) and one that changes N things counts N."""
import redis

from side_by_side import call

# Each case runs on a fresh dataset kept across its commands; deltas per command.
CASES = [
 [("SET","s","abc")], 
 [("SETBIT","b","3","1"),("SETBIT","b","3","1")],
 [("SETBIT","b","3","0")],
 [("SETBIT","b2","100","0")],
 [("BITFIELD","bf","SET","u8","0","5"),("BITFIELD","bf","SET","u8","0","5")],
 [("BITFIELD","bf","INCRBY","u8","0","0")],
 [("BITFIELD","bf","GET","u8","0")],
 [("BITFIELD","bf2","GET","u8","0")],
 [("BITFIELD","bf3","SET","u8","0","0")],
 [("BITFIELD","bf","OVERFLOW","FAIL","INCRBY","u8","0","300")],
 [("SETRANGE","s","0","abc")],
 [("SETRANGE","s","0","")],
 [("SETRANGE","nx","0","")],
 [("APPEND","s","")],
 [("HSET","h","f","v"),("HSET","h","f","v")],
 [("HSETNX","h","f","v")],
 [("HINCRBY","h","n","0")],
 [("HINCRBYFLOAT","h","x","0")],
 [("ZADD","z","1","a"),("ZADD","z","1","a")],
 [("ZADD","z","XX","5","nothere")],
 [("ZADD","z","NX","2","a")],
 [("ZADD","z","GT","0","a")],
 [("ZINCRBY","z","0","a")],
 [("ZREM","z","nothere")],
 [("ZREMRANGEBYSCORE","z","100","200")],
 [("RPUSH","l","a","b")],
 [("LREM","l","0","zz")],
 [("LSET","l","0","a")],
 [("LTRIM","l","0","-1")],
 [("LINSERT","l","BEFORE","zz","q")],
 [("LPUSHX","nol","a")],
 [("SADD","st","a"),("SADD","st","a")],
 [("SREM","st","zz")],
 [("SMOVE","st","st2","zz")],
 [("SMOVE","st","st","a")],
 [("SET","e","1"),("EXPIRE","e","100"),("EXPIRE","e","100")],
 [("PERSIST","s")],
 [("EXPIRE","nokey","100")],
 [("EXPIRE","e","100","NX")],
 [("DEL","nokey")],
 [("INCRBY","n","0")],
 [("INCRBYFLOAT","n","0")],
 [("DECRBY","n","0")],
 [("MSET","s","abc")],
 [("MSETNX","s","x")],
 [("SETNX","s","x")],
 [("SET","s","abc","NX")],
 [("SET","s","abc","XX")],
 [("GETSET","s","abc")],
 [("GETDEL","nokey")],
 [("GETEX","s")],
 [("GETEX","s","PERSIST")],
 [("RENAME","s","s")],
 [("RENAMENX","s","s")],
 [("COPY","nokey","x")],
 [("MOVE","nokey","1")],
 [("HDEL","h","zz")],
 [("LPOP","nol")],
 [("SPOP","nost")],
 [("SINTERSTORE","dst","nost","nost2")],
 [("SUNIONSTORE","dst","nost","nost2")],
 [("SDIFFSTORE","dst","nost","nost2")],
 [("SADD","dst","a"),("SINTERSTORE","dst","nost","st")],
 [("BITFIELD","bf4","SET","u8","100","0"),("BITFIELD","bf4","SET","u8","100","0")],
 [("ZUNIONSTORE","dz","1","noz")],
 [("SORT","l","ALPHA","STORE","sl")],
 [("FLUSHDB",)],
 [("FLUSHDB",)],
 [("SET","fa","1"),("FLUSHALL",)],
 [("FLUSHALL",)],
 [("SWAPDB","0","1")],
 [("SWAPDB","0","0")],
]


def dirty(c):
    return c.info("persistence")["rdb_changes_since_last_save"]


def deltas(c, case):
    out = []
    for cmd in case:
        before = dirty(c)
        call(c, *cmd)
        out.append(dirty(c) - before)
    return out


def test_dirty_counter_like_redis(r, oracle):
    for c in (r, oracle):
        c.config_set("save", "")
        c.flushall()
    diffs = []
    for case in CASES:
        a, b = deltas(r, case), deltas(oracle, case)
        if a != b:
            diffs.append((case, a, b))
    assert not diffs, "\n".join("%r: tern %r redis %r" % d for d in diffs)
