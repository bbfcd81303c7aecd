"""Upstream model calls use the environment's proxies, except for `NO_PROXY` hosts."""

from __future__ import annotations

import httpx2

from agents.models.transport import EnvironmentProxies

PROXIES = {
    "https": "http://proxy.corp:3128",
    "http": "http://plain-proxy.corp:3128",
    "no": "localhost, .internal.corp,vllm.lab:8000,*.svc",
}


def test_each_scheme_takes_its_proxy() -> None:
    proxies = EnvironmentProxies(PROXIES)
    assert proxies.for_url(httpx2.URL("https://api.openai.com/v1")) == "http://proxy.corp:3128"
    assert proxies.for_url(httpx2.URL("http://models.example/v1")) == "http://plain-proxy.corp:3128"


def test_no_proxy_hosts_and_domains_go_direct() -> None:
    proxies = EnvironmentProxies(PROXIES)
    for url in (
        "http://localhost:8080/v1",
        "https://llm.internal.corp/v1",
        "https://internal.corp/v1",
        "http://vllm.lab:8000/v1",
        "http://ollama.svc/v1",
    ):
        assert proxies.for_url(httpx2.URL(url)) is None, url
    assert proxies.for_url(httpx2.URL("https://notinternal.corp/v1")) == "http://proxy.corp:3128"


def test_a_star_sends_everything_direct() -> None:
    proxies = EnvironmentProxies({"https": "http://proxy.corp:3128", "no": "*"})
    assert proxies.for_url(httpx2.URL("https://api.anthropic.com")) is None


def test_no_proxy_configured() -> None:
    assert EnvironmentProxies({}).for_url(httpx2.URL("https://api.openai.com")) is None
