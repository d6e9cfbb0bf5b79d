"""Bulk JSON import: the ids the fast SQLite insert computes are the rows' ids, in input order; the byte-level
nesting check agrees with the parsed document's depth, strings full of brackets, quotes and escapes included."""
import json
import random

from server.api.input_guard import MAX_DEPTH, too_deep


def test_created_ids_are_the_rows_in_input_order(admin, labels_project):
    pid = labels_project["id"]
    status, first = admin.post(f"/projects/{pid}/items", [{"text": f"first {i}"} for i in range(5)])
    assert status == 201, first
    # The newest item deleted: the next ids start after the max that is left, which the insert must follow.
    status, _ = admin.delete(f"/items/{first['created'][-1]['id']}")
    assert status in (200, 204)
    records = [{"text": f"note {i}", "name": f"n{i}"} for i in range(300)]
    records[7] = {"text": "note 3", "name": "dup"}  # same content: both stored (no dedup on direct posts)
    status, body = admin.post(f"/projects/{pid}/items", records)
    assert status == 201, body
    ids = [c["id"] for c in body["created"]]
    assert len(ids) == 300 and ids == sorted(ids) and len(set(ids)) == 300
    assert [c["name"] for c in body["created"]] == [r["name"] for r in records]
    for created, record in zip(body["created"][::37], records[::37]):
        status, item = admin.get(f"/items/{created['id']}")
        assert status == 200 and item["text"] == record["text"] and item["name"] == record["name"]
        assert item["project_id"] == pid and item["status"] == "ready" and item["meta"] == {}


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _tricky_string(rng) -> str:
    return "".join(rng.choice(['[', ']', '{', '}', '"', '\\', '\\\\', '\\"', 'a', ' ', '\n', 'é', '\\u00e9'])
                   for _ in range(rng.randint(0, 12)))


def _document(rng, depth: int):
    if depth == 0:
        return rng.choice([_tricky_string(rng), 1, None, True, 2.5])
    # one child as deep as asked, its siblings shallow (a full tree that deep would never end)
    children = [_document(rng, depth - 1)] + [_document(rng, rng.randint(0, min(2, depth - 1))) for _ in range(2)]
    rng.shuffle(children)
    if rng.random() < 0.5:
        return children + [_tricky_string(rng)]
    return {_tricky_string(rng) + str(i): child for i, child in enumerate(children)}


def test_too_deep_matches_the_parsed_depth():
    rng = random.Random(15)
    for trial in range(200):
        depth = rng.choice([1, 3, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 5])
        document = _document(rng, depth)
        for ensure_ascii in (True, False):
            raw = json.dumps(document, ensure_ascii=ensure_ascii).encode()
            assert too_deep(raw) == (_depth(document) > MAX_DEPTH), (trial, depth)
    assert not too_deep(json.dumps([{"text": "]]]]" * 100 + '\\"[[' * 100}] * 100).encode())
    assert too_deep(("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode())
    assert too_deep(json.dumps([["\\"]]).encode(), limit=1) and not too_deep(b'["\\\\[", "\\"["]', limit=1)
