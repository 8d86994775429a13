"""The client's settings: one frozen value, made once, shared by the client and its transport."""

from __future__ import annotations

import attrs
import pytest
from yarl import URL

from flinkey_async import ClientConfig, FlinkeyClient, RetryPolicy, ValidationError

from .fake_secrets import API_KEY, PASSWORD, STATIC_TOKEN, USERNAME


def test_one_value_shared_by_client_and_transport() -> None:
    policy = RetryPolicy(attempts=2)
    client = FlinkeyClient(
        api_key=API_KEY,
        username=USERNAME,
        password=PASSWORD,
        customer_id=7,
        base_url="http://127.0.0.1:9/v3/",
        retry=policy,
        rate_limit=5,
    )
    config = client.config
    assert config is client._transport.config
    assert config.base_url == URL("http://127.0.0.1:9/v3")
    assert config.retry is policy
    assert (config.customer_id, config.rate_limit, config.connector_limit) == (7, 5, 100)
    assert client.base_url == config.base_url
    assert client.rate_limit == 5
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.api_key = "other"  # type: ignore[misc]


def test_defaults() -> None:
    config = ClientConfig(api_key=API_KEY, token=STATIC_TOKEN)
    assert str(config.base_url) == "https://api.flinkey.de/v3"
    assert config.retry == RetryPolicy()
    assert config.customer_id is None


def test_repr_leaves_out_the_secrets() -> None:
    config = ClientConfig(api_key=API_KEY, username=USERNAME, password=PASSWORD, customer_id=3)
    text = repr(config)
    assert "customer_id=3" in text
    for secret in (API_KEY, PASSWORD):
        assert secret not in text
    assert STATIC_TOKEN not in repr(ClientConfig(api_key=API_KEY, token=STATIC_TOKEN))


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"token": STATIC_TOKEN, "username": USERNAME}, "token"),
        ({"token": " "}, "token"),
        ({"username": USERNAME}, "password"),
        ({"password": PASSWORD}, "username"),
        ({"token": STATIC_TOKEN, "retry": 3}, "retry"),
        ({"token": STATIC_TOKEN, "base_url": "ftp://x"}, "base_url"),
    ],
)
def test_checked_when_made(options: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ClientConfig(api_key=API_KEY, **options)  # type: ignore[arg-type]
    assert caught.value.field == field
