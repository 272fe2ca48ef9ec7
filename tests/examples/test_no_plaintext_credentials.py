"""No plaintext credential in what floe publishes: examples/, charts/ and docs/ hold only secret
references, placeholders and ciphertext. The scanner is tested on planted credentials too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.charts.helm_support import REPO_ROOT
from tests.examples.credential_scan import is_allowed_value, scan, scan_file

SCANNED = ("examples", "charts", "docs")


def test_examples_charts_and_docs_hold_no_plaintext_credential():
    roots = [REPO_ROOT / name for name in SCANNED]
    assert all(root.is_dir() for root in roots)
    findings = scan(*roots)
    assert not findings, "plaintext credentials:\n" + "\n".join(map(str, findings))


def test_the_readme_holds_no_plaintext_credential():
    assert not scan(REPO_ROOT / "README.md")


PLANTED = {
    "values.yaml": ("floe-dagster:\n  dagster:\n    postgresql:\n      postgresqlPassword: hunter2-plaintext\n", 4),
    "secret.yaml": ("apiVersion: v1\nkind: Secret\nmetadata: {name: floe-secrets}\n"
                    "stringData:\n  DAGSTER_PG_PASSWORD: hunter2-plaintext\n", 5),
    "data.yaml": ("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata:\n  token: aHVudGVyMg==\n", 5),
    "platform.yaml": ("environments:\n  prod:\n    catalog:\n      type: rest\n      client_secret: s3cr3t\n", 5),
    "env.yaml": ("env:\n- name: PGPASSWORD\n  value: hunter2-plaintext\n", 2),
    "guide.md": ("# Setup\n\n```bash\nexport DAGSTER_PG_PASSWORD=hunter2-plaintext\n```\n", 4),
    "url.md": ("Connect with `postgresql://dagster:hunter2@db:5432/dagster`.\n", 1),
    "aws.txt": ("key AKIAIOSFODNN7EXAMPLX in a note\n", 1),
    "deploy.sh": ("kubectl create secret generic x --from-literal=postgresql-password=hunter2\n", 1),
    "pem.md": ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n", 1),
    "age.txt": ("AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS\n", 1),
    "template.yaml": ("{{- if .Values.x }}\n  password: hunter2-plaintext\n{{- end }}\n", 2),
    "docs.md": ("```yaml\nenvironments:\n  dev:\n    compute: {type: postgres, password: hunter2}\n```\n", 4),
    # Sealed-looking base64 outside a SealedSecret's encryptedData is a plaintext key.
    "sealed.yaml": ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
                    "data:\n  api_key: AgBy3i4OJSWK+PiTySYZZA==\n", 5),
}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_the_scanner_finds_a_planted_credential(tmp_path, name):
    text, line = PLANTED[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    findings = scan_file(path)
    assert findings, f"{name}: not found"
    assert line in {f.line for f in findings}, [str(f) for f in findings]


def test_a_planted_password_in_a_copy_of_the_examples_fails_the_scan(tmp_path):
    copy = tmp_path / "examples"
    shutil.copytree(REPO_ROOT / "examples", copy)
    assert not scan(copy)
    values = copy / "environments" / "prod" / "values.yaml"
    values.write_text(values.read_text(encoding="utf-8").replace(
        "postgresqlUsername: dagster", "postgresqlUsername: dagster\n    postgresqlPassword: Pr0d-Passw0rd!"),
        encoding="utf-8")
    sealed = copy / "secrets" / "sops" / "staging" / "floe-secrets.enc.yaml"
    lines = sealed.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("  POLARIS_CLIENT_SECRET:"))
    lines[index] = "  POLARIS_CLIENT_SECRET: forgot-to-encrypt"
    sealed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    password_line = next(n for n, line in enumerate(values.read_text(encoding="utf-8").splitlines(), 1)
                         if "postgresqlPassword" in line)
    found = {(Path(f.path).name, f.line) for f in scan(copy)}
    assert found == {("values.yaml", password_line), ("floe-secrets.enc.yaml", index + 1)}


@pytest.mark.parametrize("value", [
    {"secret_ref": "PG_PASSWORD"}, "<your-password>", "${PG_PASSWORD}", "$PG_PASSWORD", "{{ env_var('X') }}", "",
    None, "ENC[AES256_GCM,data:Zm9v,iv:YmFy,tag:YmF6,type:str]",
])
def test_references_placeholders_and_ciphertext_are_allowed(value):
    assert is_allowed_value(value)


@pytest.mark.parametrize("value", ["hunter2", "ENC[not really]", "AgB3fakebutnotsealedcontext", 12345678,
                                   {"secret_ref": "X", "value": "y"}])
def test_literals_are_not_allowed(value):
    assert not is_allowed_value(value)
