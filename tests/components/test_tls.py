"""`redis.tls`: the stack's CA and node certificates (components/tls.py), and
what the cluster component uploads, configures and exports with it (Pulumi's
mocks). The real engine's proof is tests/integration/test_redis_tls_engine.py."""

from __future__ import annotations

import ssl
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from components import tls
from components.redis_config import RedisConfig
from tests.support.capture import Capture, is_secret, run_program

PASSWORD = "test-password-0123456789"
CONFIG = tls.TlsConfig(enabled=True)
SANS = ["infra-unit-redis-0", "172.28.0.10", "127.0.0.1", "localhost"]


def cert_of(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def issue(today: date, config: tls.TlsConfig = CONFIG, secret: str = PASSWORD) -> tls.NodeCert:
    ca = tls.generated_ca(secret, "infra-unit-redis")
    return tls.node_cert(ca, secret, "infra-unit-redis-0", SANS, tls.period_of(today, config))


def test_same_inputs_same_certificate_so_previews_show_no_change() -> None:
    assert issue(date(2026, 12, 3)) == issue(date(2026, 12, 3))
    assert issue(date(2026, 12, 3)) != issue(date(2026, 12, 3), secret=PASSWORD + "x")


@pytest.mark.parametrize("days", range(0, 400, 7))
def test_the_certificate_in_use_always_has_the_renewal_window_left(days: int) -> None:
    today = date(2026, 3, 1) + timedelta(days=days)
    period = tls.period_of(today, CONFIG)
    now = datetime.combine(today, datetime.min.time(), UTC)
    assert period.not_before <= now
    assert period.not_after - now >= timedelta(days=CONFIG.renew_before_days)


def test_a_new_period_issues_a_new_key_from_the_same_ca() -> None:
    first, later = issue(date(2026, 12, 3)), issue(date(2027, 3, 1))
    assert first.ca_pem == later.ca_pem
    assert first.key_pem != later.key_pem and first.cert_pem != later.cert_pem


def test_node_certificate_chains_to_the_ca_and_names_every_address() -> None:
    node = issue(date(2026, 12, 3))
    cert, ca = cert_of(node.cert_pem), cert_of(node.ca_pem)
    cert.verify_directly_issued_by(ca)
    assert tls.san_gaps(node.cert_pem, SANS) == []
    assert tls.san_gaps(node.cert_pem, ["10.0.0.9"]) == ["10.0.0.9"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    # Python's own TLS stack accepts the CA and the node's certificate and key.
    context = ssl.create_default_context(cadata=node.ca_pem)
    assert context.cert_store_stats()["x509_ca"] == 1


def test_key_is_p256_and_unencrypted_pkcs8() -> None:
    key = serialization.load_pem_private_key(issue(date(2026, 12, 3)).key_pem.encode(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"


def own_authority() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "my CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=900))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def test_a_users_own_ca_signs_the_nodes() -> None:
    cert_pem, key_pem = own_authority()
    ca = tls.own_ca(cert_pem, key_pem)
    period = tls.period_of(date(2026, 12, 3), CONFIG)
    node = tls.node_cert(ca, PASSWORD, "n0", SANS, period)
    cert_of(node.cert_pem).verify_directly_issued_by(cert_of(cert_pem))
    assert node == tls.node_cert(ca, PASSWORD, "n0", SANS, period)


def test_a_key_that_is_not_the_cas_is_refused() -> None:
    cert_pem, _ = own_authority()
    _, other_key = own_authority()
    with pytest.raises(tls.CaKeyInvalid, match="does not belong"):
        tls.own_ca(cert_pem, other_key)
    with pytest.raises(tls.CaKeyInvalid, match="not an unencrypted PEM"):
        tls.own_ca(cert_pem, "nonsense")


@pytest.mark.parametrize(
    ("tls_config", "message"),
    [
        ({"enabled": True, "certDays": 30, "renewBeforeDays": 30}, "must be less than certDays"),
        ({"enabled": True, "caCert": "nope"}, "not a PEM certificate"),
        ({"enabled": True, "certDays": 1}, "greater than or equal to 2"),
        ({"enabled": True, "keySize": 4096}, "Extra inputs"),
    ],
)
def test_bad_tls_config_is_refused(tls_config: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RedisConfig.model_validate({"tls": tls_config})


def test_a_leaf_certificate_is_refused_as_ca() -> None:
    leaf = issue(date(2026, 12, 3)).cert_pem
    with pytest.raises(ValidationError, match="not a CA"):
        RedisConfig.model_validate({"tls": {"enabled": True, "caCert": leaf}})


def test_sentinel_mode_runs_nodes_and_sentinels_on_tls_only() -> None:
    capture = run_program(
        "unit",
        {"redis": {"mode": "sentinel", "tls": {"enabled": True}}},
        {"redisPassword": PASSWORD},
    )
    node = uploads(capture, "redis-node-1-1")
    conf = node["/usr/local/etc/redis/redis.conf.tpl"].splitlines()
    assert conf[:2] == ["port 0", "tls-port 6379"] and "tls-replication yes" in conf
    assert "tls-cluster yes" not in conf
    sentinel = uploads(capture, "redis-sentinel-2")
    conf = sentinel["/usr/local/etc/redis/sentinel.conf.tpl"].splitlines()
    assert conf[:2] == ["port 0", "tls-port 26379"] and "tls-replication yes" in conf
    cert = sentinel["/usr/local/etc/redis/tls/node.crt"]
    assert tls.san_gaps(cert, ["infra-unit-redis-sentinel-2", "127.0.0.1"]) == []
    script = sentinel["/usr/local/bin/redis-sentinel-ha.sh"]
    assert "redis-cli --tls --cacert /usr/local/etc/redis/tls/ca.crt --no-auth-warning" in script
    assert capture.outputs["redisCaCert"][0].startswith("-----BEGIN CERTIFICATE-----")


def test_a_plaintext_sentinel_tier_keeps_its_script_byte_for_byte() -> None:
    from components.docker_node import script_text

    capture = run_program("unit", {"redis": {"mode": "sentinel"}}, {"redisPassword": PASSWORD})
    script = uploads(capture, "redis-sentinel-0")["/usr/local/bin/redis-sentinel-ha.sh"]
    assert script == script_text("redis-sentinel-ha.sh")
    assert "redisCaCert" not in capture.outputs


# --- the component, under Pulumi's mocks ----------------------------------------


@pytest.fixture(scope="module")
def capture() -> Capture:
    return run_program("unit", {"redis": {"tls": {"enabled": True}}}, {"redisPassword": PASSWORD})


def uploads(capture: Capture, name: str) -> dict[str, str]:
    return {u["file"]: u["content"] for u in capture.named(name).spec["uploads"]}


def test_every_node_listens_on_tls_only_with_tls_replication_and_bus(capture: Capture) -> None:
    for i in range(6):
        conf = uploads(capture, f"redis-node-{i}")["/usr/local/etc/redis/redis.conf"]
        lines = conf.splitlines()
        assert lines[:2] == ["port 0", "tls-port 6379"]
        for line in ("tls-replication yes", "tls-cluster yes", "tls-auth-clients no"):
            assert line in lines


def test_each_node_gets_its_own_certificate_naming_its_addresses(capture: Capture) -> None:
    certs = []
    for i in range(6):
        files = uploads(capture, f"redis-node-{i}")
        cert = files["/usr/local/etc/redis/tls/node.crt"]
        ip = f"172.28.0.{10 + i}"
        assert tls.san_gaps(cert, [ip, f"infra-unit-redis-{i}", "127.0.0.1"]) == []
        cert_of(cert).verify_directly_issued_by(cert_of(files["/usr/local/etc/redis/tls/ca.crt"]))
        certs.append(cert)
    assert len(set(certs)) == 6


def test_keys_are_secrets_and_the_ca_is_an_output(capture: Capture) -> None:
    assert is_secret(capture.named("redis-node-0").inputs["uploads"])
    ca, secret = capture.outputs["redisCaCert"]
    assert not secret and ca.startswith("-----BEGIN CERTIFICATE-----")
    url, _ = capture.outputs["redisUrl"]
    assert url.startswith("rediss://")


def test_health_and_init_speak_tls(capture: Capture) -> None:
    node = capture.named("redis-node-0").spec
    assert "--tls --cacert /usr/local/etc/redis/tls/ca.crt" in node["healthcheck"]["tests"][-1]
    init = capture.named("redis-init").spec
    assert "CLI_TLS=--tls --cacert /usr/local/etc/redis/tls/ca.crt" in init["envs"]
    assert "/usr/local/etc/redis/tls/ca.crt" in uploads(capture, "redis-init")


def test_plaintext_stacks_have_no_ca_output() -> None:
    capture = run_program("unit", {"redis": {}}, {"redisPassword": PASSWORD})
    assert "redisCaCert" not in capture.outputs
    assert capture.outputs["redisUrl"][0].startswith("redis://")
