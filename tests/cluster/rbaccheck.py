"""What a ServiceAccount may do, asked of the API server (``kubectl auth can-i``)."""

from __future__ import annotations


def can_i(kubectl, account: str, verb: str, resource: str, namespace: str = "") -> bool:
    """``resource`` may name a subresource (``ingresses/status``); the question covers all
    namespaces, or ``namespace`` alone."""
    name, _, sub = resource.partition("/")
    extra = ["--subresource", sub] if sub else []
    where = ["-n", namespace] if namespace else ["-A"]
    answer = kubectl("auth", "can-i", verb, name, *extra, "--as", account, *where, check=False).stdout.strip()
    return answer == "yes"


def assert_allowed_exactly(kubectl, account: str, allowed: set[tuple[str, str]], denied: set[tuple[str, str]]) -> None:
    wrong = [(verb, resource) for verb, resource in allowed if not can_i(kubectl, account, verb, resource)]
    wrong += [(verb, resource) for verb, resource in denied if can_i(kubectl, account, verb, resource)]
    assert not wrong, f"{account}: not as expected (allowed {sorted(allowed)}): {wrong}"
