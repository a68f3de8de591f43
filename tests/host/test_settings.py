"""ServeSettings travel to worker processes as JSON."""

from robutler_monitoring.host.settings import ServeSettings


def test_round_trip_keeps_everything_but_state() -> None:
    settings = ServeSettings(
        target="a:b", port=9001, workers=3, disabled_plugins=("x",), plugin_options={"k": "v"}
    )
    settings.state["scratch"] = object()
    again = ServeSettings.from_json(settings.to_json())
    assert again == settings
    assert again.state == {}


def test_base_url_for_wildcard_and_ipv6_hosts() -> None:
    assert ServeSettings(host="0.0.0.0", port=1).base_url == "http://127.0.0.1:1"
    assert ServeSettings(host="::1", port=2).base_url == "http://[::1]:2"
