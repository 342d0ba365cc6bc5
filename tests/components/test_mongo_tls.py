"""`mongo.tls` under Pulumi's mocks: what the replica set component runs,
uploads and exports with TLS on (components/mongo_replicaset.py, `MongoTls`).

WIRING ONLY: no mongod exists on these machines, so nothing here shows that
mongod 8.0 accepts these flags and files or that the members' TLS handshakes
succeed; it shows exactly what the docker provider would be given.
"""

from __future__ import annotations

import base64
import json
import shlex
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pymongo import uri_parser

from components import mongo_handover as ho
from components import mongo_replicaset as mrs
from components import tls
from tests.components.hosts_support import ADDRESS, run_on_hosts
from tests.support.capture import Capture, Resource, is_secret, run_program

PASSWORD = "mongo-root-password-0123456789"
KEY = base64.b64encode(bytes(range(256)) * 3).decode()
SECRETS = {"mongoRootPassword": PASSWORD, "mongoKeyFile": KEY}
NO_REDIS = {"redis": {"enabled": False}}
CA_PATH = "/etc/mongo-ca.pem"
PEM_UPLOAD = "/run/secrets/mongo-tls.pem"


def program(secrets: dict[str, str] = SECRETS, **mongo: Any) -> Capture:
    config = {**NO_REDIS, "mongo": {"enabled": True, "tls": {"enabled": True}, **mongo}}
    return run_program("unit", config, secrets)


@pytest.fixture(scope="module")
def capture() -> Capture:
    return program(users=[{"name": "app"}, {"name": "ops", "preset": "monitoring"}])


def members(capture: Capture) -> list[Resource]:
    found = [r for r in capture.containers() if r.name.startswith("mongo-member-")]
    return sorted(found, key=lambda r: r.name)


def uploads(res: Resource) -> dict[str, dict[str, str]]:
    return {u["file"]: u for u in res.spec["uploads"]}


def cert_of(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def test_every_mongod_requires_tls_with_its_certificate_and_the_ca(capture: Capture) -> None:
    for res in [*members(capture)]:
        script = res.spec["command"][2]
        *steps, launch = script.split(" && ")
        assert steps == [
            "cp /run/secrets/mongo-keyfile /etc/mongo-keyfile",
            "chown mongodb:mongodb /etc/mongo-keyfile",
            "chmod 0400 /etc/mongo-keyfile",
            "cp /run/secrets/mongo-tls.pem /etc/mongo-tls.pem",
            "chown mongodb:mongodb /etc/mongo-tls.pem",
            "chmod 0400 /etc/mongo-tls.pem",
        ]
        args = shlex.split(launch.removeprefix("exec "))
        assert args[-7:] == [
            "--tlsMode",
            "requireTLS",
            "--tlsCertificateKeyFile",
            "/etc/mongo-tls.pem",
            "--tlsCAFile",
            CA_PATH,
            "--tlsAllowConnectionsWithoutCertificates",
        ]
        assert args[:4] == ["docker-entrypoint.sh", "mongod", "--replSet", "rs0"]


def test_the_arbiter_requires_tls_too() -> None:
    capture = program(members=2, arbiter=True)
    arbiter = capture.named("mongo-arbiter")
    assert "--tlsMode requireTLS" in arbiter.spec["command"][2]
    assert set(uploads(arbiter)) >= {CA_PATH, PEM_UPLOAD}
    cert = cert_of(uploads(arbiter)[PEM_UPLOAD]["content"])
    assert (
        tls.san_gaps(
            cert.public_bytes(serialization.Encoding.PEM).decode(),
            [
                "infra-unit-mongo-arbiter",
                "172.28.0.160",
            ],
        )
        == []
    )


def test_each_member_gets_its_own_certificate_and_key_from_the_sets_ca(capture: Capture) -> None:
    seen = set()
    for i, res in enumerate(members(capture)):
        files = uploads(res)
        assert [f for f in files] == ["/run/secrets/mongo-keyfile", CA_PATH, PEM_UPLOAD]
        assert files[CA_PATH]["permissions"] == "0644"
        assert files[PEM_UPLOAD]["permissions"] == "0400"
        pem = files[PEM_UPLOAD]["content"]
        # mongod's --tlsCertificateKeyFile: the certificate, then its key, in one file
        assert pem.index("BEGIN CERTIFICATE") < pem.index("BEGIN PRIVATE KEY")
        cert = cert_of(pem)
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        assert key.public_key().public_bytes(*public) == cert.public_key().public_bytes(*public)
        cert.verify_directly_issued_by(cert_of(files[CA_PATH]["content"]))
        names = [f"infra-unit-mongo-{i}", f"172.28.0.{100 + i}", "127.0.0.1", "localhost"]
        assert tls.san_gaps(pem, names) == []
        seen.add(pem)
    assert len(seen) == 3


def test_across_hosts_a_certificate_names_the_host_address_the_set_config_uses() -> None:
    config = {**NO_REDIS, "mongo": {"enabled": True, "tls": {"enabled": True}}}
    placed = run_on_hosts(config, SECRETS)
    for i, host in enumerate(["h1", "h2", "h3"]):
        res = placed.capture.named(f"mongo-member-{i}")
        pem = uploads(res)[PEM_UPLOAD]["content"]
        assert tls.san_gaps(pem, [ADDRESS[host], f"infra-unit-mongo-{i}", "127.0.0.1"]) == []
    rs = json.loads(
        dict(e.split("=", 1) for e in placed.capture.named("mongo-init").spec["envs"])["RS_SPEC"]
    )
    assert [m["host"].split(":")[0] for m in rs["members"]] == list(ADDRESS.values())


def secrets_of(capture: Capture) -> list[str]:
    """Every secret value that must stay out of commands, env and labels."""
    values = [PASSWORD, KEY, "".join(KEY.split())]
    for res in capture.containers():
        for upload in res.spec["uploads"]:
            text = upload["content"]
            if upload["file"] == PEM_UPLOAD:
                key = text[text.index("-----BEGIN PRIVATE KEY") :]
                values.append(key)
                values += [line for line in key.splitlines() if "-----" not in line]
            if upload["file"] == "/run/secrets/mongo-users.json":
                values += list(json.loads(text).values())
    return values


def test_no_key_or_password_in_any_command_env_label_or_healthcheck(capture: Capture) -> None:
    secrets = secrets_of(capture)
    assert len(secrets) > 10
    for res in capture.containers():
        assert is_secret(res.inputs["uploads"]), res.name
        visible = {k: v for k, v in res.spec.items() if k != "uploads"}
        text = json.dumps(visible)
        for secret in secrets:
            assert secret not in text, (res.name, secret[:12])


def test_health_and_init_speak_tls_with_the_ca(capture: Capture) -> None:
    for i, res in enumerate(members(capture)):
        health = res.spec["healthcheck"]["tests"][1]
        assert health.startswith("mongosh --quiet --norc --tls --tlsCAFile /etc/mongo-ca.pem ")
        assert f"--host localhost --port {27017 + i} " in health
        assert "mongo-ping.sh" not in json.dumps(res.spec)
    init = capture.named("mongo-init").spec
    assert "TLS_CA_FILE=/etc/mongo-ca.pem" in init["envs"]
    files = uploads(capture.named("mongo-init"))
    assert files[CA_PATH]["content"] == capture.outputs["mongoCaCert"][0]
    assert PEM_UPLOAD not in files  # the init container is a client: no certificate


def test_urls_say_tls_and_the_ca_is_a_public_output(capture: Capture) -> None:
    ca, secret = capture.outputs["mongoCaCert"]
    assert not secret and cert_of(ca).extensions.get_extension_for_class(x509.BasicConstraints)
    assert cert_of(ca).subject.rfc4514_string() == "CN=infra-unit-mongo CA"
    for key in ("mongoUrl", "mongoHostUrl", "mongoHostDirectUrl"):
        parsed = uri_parser.parse_uri(capture.outputs[key][0])
        assert parsed["options"]["tls"] is True, key
    users, _ = capture.outputs["mongoUsers"]
    assert uri_parser.parse_uri(users["app"]["url"])["options"]["tls"] is True


def test_the_ca_is_the_sets_own_derived_from_the_keyfile() -> None:
    """Not the Redis tier's (its own secret), and not the root password's (which
    can change in place): a new root password keeps every certificate."""
    both = run_program(
        "unit",
        {"redis": {"tls": {"enabled": True}}, "mongo": {"enabled": True, "tls": {"enabled": True}}},
        {**SECRETS, "redisPassword": "redis-password-0123456789abc"},
    )
    assert both.outputs["mongoCaCert"][0] != both.outputs["redisCaCert"][0]
    base = program()
    other_root = program({**SECRETS, "mongoRootPassword": "another-root-password-0123456"})
    assert other_root.outputs["mongoCaCert"] == base.outputs["mongoCaCert"]
    assert uploads(other_root.named("mongo-member-0")) == uploads(base.named("mongo-member-0"))
    other_key = program({**SECRETS, "mongoKeyFile": base64.b64encode(b"k" * 600).decode()})
    assert other_key.outputs["mongoCaCert"] != base.outputs["mongoCaCert"]


def test_a_second_run_registers_identical_inputs(capture: Capture) -> None:
    again = program(users=[{"name": "app"}, {"name": "ops", "preset": "monitoring"}])

    def inputs(c: Capture) -> list[tuple[str, str]]:
        return sorted((r.name, json.dumps(r.inputs, sort_keys=True)) for r in c.resources)

    assert inputs(again) == inputs(capture)


def test_a_short_keyfile_is_refused_when_keys_derive_from_it() -> None:
    with pytest.raises(ValueError, match="needs at least 32"):
        program({**SECRETS, "mongoKeyFile": "c2VjcmV0c2VjcmV0"})
    plain = run_program(
        "unit", {**NO_REDIS, "mongo": {"enabled": True}}, {**SECRETS, "mongoKeyFile": "c2VjcmV0"}
    )
    # without TLS only mongod's own rule applies, and there is no CA
    assert plain.outputs.get("mongoCaCert", (None, False))[0] is None


def test_plaintext_members_keep_their_spec() -> None:
    plain = run_program("unit", {**NO_REDIS, "mongo": {"enabled": True}}, SECRETS)
    member = plain.named("mongo-member-0").spec
    assert "--tls" not in member["command"][2]
    assert member["healthcheck"]["tests"][1] == "bash /usr/local/lib/infra/mongo-ping.sh 27017"
    assert not any(e.startswith("TLS_CA_FILE=") for e in plain.named("mongo-init").spec["envs"])
    assert "tls" not in uri_parser.parse_uri(plain.outputs["mongoUrl"][0])["options"]
    assert plain.outputs.get("mongoCaCert", (None, False))[0] is None


def test_the_rolling_hand_overs_verify_members_with_the_ca(capture: Capture) -> None:
    ca = capture.outputs["mongoCaCert"][0]
    members_ = ho.MongoMembers(
        endpoints={"mongo-member-0": ("127.0.0.1", 27017)},
        hosts={"mongo-member-0": "infra-unit-mongo-0:27017"},
        user="root",
        auth_source="admin",
        ca_pem=[ca],
    )
    options = members_.client_options("mongo-member-0", auth=False)
    assert options["tls"] is True
    with open(options["tlsCAFile"]) as f:
        assert f.read() == ca
    assert ho.ca_file(ca) == options["tlsCAFile"]  # one file per CA
    plain = ho.MongoMembers(endpoints=members_.endpoints, hosts={}, user="root", auth_source="a")
    assert "tls" not in plain.client_options("mongo-member-0")


def test_bring_your_own_ca_is_refused_for_mongo() -> None:
    ca = tls.generated_ca("x" * 40, "mine").pem
    from pydantic import ValidationError

    from components.mongo_config import MongoConfig

    with pytest.raises(ValidationError, match="not wired for MongoDB"):
        MongoConfig.model_validate({"enabled": True, "tls": {"enabled": True, "caCert": ca}})


def test_layout_sans_follow_redis_rule() -> None:
    capture = program(publish=False)
    pem = uploads(capture.named("mongo-member-1"))[PEM_UPLOAD]["content"]
    assert tls.san_gaps(pem, ["infra-unit-mongo-1", "172.28.0.101", "localhost"]) == []
    assert mrs.CA_PATH == CA_PATH
