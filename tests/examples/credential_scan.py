"""A scanner for plaintext credentials in the files floe publishes (examples/, charts/, docs/).

What may stand where a credential goes: a secret reference (``{secret_ref: NAME}``), the name of
a Kubernetes Secret, a placeholder (``<your-password>``, ``${VAR}``, ``$VAR``, a Helm or dbt
template), or ciphertext (SOPS ``ENC[AES256_GCM,...]`` values, a SealedSecret's
``encryptedData``). Anything else is a finding.

Two passes:

* structure: YAML and JSON documents (and the fenced yaml/json blocks of Markdown) are walked;
  a value under a credential-looking key, any value of a Secret's ``data``/``stringData``, and
  an env entry ``{name: X_PASSWORD, value: ...}`` must be one of the allowed forms;
* text: every line of every file is searched for credential shapes that are recognisable
  anywhere (AWS key ids, private key blocks, age secret keys, tokens, ``user:password@`` in
  URLs, ``X_PASSWORD=value`` assignments, ``password: value`` lines of templates).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from floe.spec.secrets import is_credential_key

TEXT_SUFFIXES = {".yaml", ".yml", ".json", ".md", ".txt", ".tpl", ".sh", ".py", ".toml", ".cfg", ".env", ""}

# A key names a credential when, ignoring case, '-' and '_', it ends like one.
_CREDENTIAL_ENDINGS = re.compile(
    r"(password|passwd|pwd|secret|token|apikey|privatekey|secretaccesskey|accountkey|sastoken|passphrase)$"
)
# camelCase keys ending in Secret/SecretName hold the *name* of a Kubernetes Secret in Helm values
# (credentialsSecret, existingSecret, postgresqlSecretName).
_SECRET_OBJECT_KEY = re.compile(r"^[a-z][a-zA-Z0-9]*Secret(Name)?$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")

_PLACEHOLDER = re.compile(
    r"""^(
        <[^<>]+>                      # <your-password>
      | \$\$?\{[^}]+\}                # ${VAR} ($${VAR}: Compose's escape)
      | \$\([^)]+\)                   # $(VAR) (Kubernetes env expansion)
      | \$\$?[A-Za-z_][A-Za-z0-9_]*   # $VAR
      | \{\{.*\}\}                    # a Helm or dbt template
      | ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:[a-z]+\]  # SOPS
      | \*+ | \.\.\.                  # masked
    )$""",
    re.VERBOSE | re.DOTALL,
)
_SEALED = re.compile(r"^Ag[A-Za-z0-9+/=]{40,}$")

# Shapes that are credentials wherever they appear.
_TEXT_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("private key block", re.compile(r"-----BEGIN ([A-Z]+ )*PRIVATE KEY-----")),
    ("age secret key", re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]{20,}")),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("password in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?P<value>[^@\s/'\"]+)@")),
    # X_PASSWORD=value, --from-literal=postgresql-password=value, PGPASSWORD='value'
    ("credential assignment", re.compile(
        r"(?i)\b[\w.-]*(password|passwd|secret|token|api_?key|access_?key)[\w-]*\s*=\s*['\"]?(?P<value>[^\s'\";,)]+)")),
]
# 'password: value' lines of files that cannot be parsed (Helm templates).
_TEMPLATE_LINE = re.compile(r"^\s*-?\s*(?P<key>[\w.-]+)\s*:\s*(?P<value>\S.*?)\s*$")


@dataclass(frozen=True)
class Finding:
    """One plaintext credential: where, and what kind."""

    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def is_credential_name(key: str) -> bool:
    """Whether a key (a YAML key, an env var name) names a credential."""
    normalised = re.sub(r"[-_.]", "", key).lower()
    return is_credential_key(key) or bool(_CREDENTIAL_ENDINGS.search(normalised))


def is_allowed_value(value: Any) -> bool:
    """Whether a value may stand where a credential goes (never the credential itself)."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, dict):
        return set(value) == {"secret_ref"} or not value or all(isinstance(v, dict | list) for v in value.values())
    if isinstance(value, list):
        return all(is_allowed_value(item) for item in value)
    text = str(value).strip()
    return text == "" or bool(_PLACEHOLDER.match(text))


def _line_of(text: str, needle: str) -> int:
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else 1


class _Walker:
    def __init__(self, path: Path, text: str, first_line: int = 1) -> None:
        self.path, self.text, self.first_line = path, text, first_line
        self.findings: list[Finding] = []

    def report(self, where: str, needle: str, what: str) -> None:
        line = self.first_line + _line_of(self.text, needle) - 1
        self.findings.append(Finding(self.path, line, f"{what} at {where}"))

    def document(self, document: Any) -> None:
        if isinstance(document, dict) and document.get("kind") == "Secret":
            for field in ("data", "stringData"):
                for key, value in (document.get(field) or {}).items():
                    if not is_allowed_value(value):
                        self.report(f"{field}.{key}", f"{key}:", "plaintext value in a Secret")
        self.walk(document, "", sealed=isinstance(document, dict) and document.get("kind") == "SealedSecret")

    def walk(self, value: Any, where: str, *, sealed: bool = False) -> None:
        if isinstance(value, dict):
            name = value.get("name")
            if (isinstance(name, str) and "value" in value and is_credential_name(name)
                    and not is_allowed_value(value["value"])):
                self.report(f"{where} (env {name})", name, "plaintext credential in an env entry")
            for key, item in value.items():
                child = f"{where}.{key}" if where else str(key)
                if isinstance(item, dict | list):
                    self.walk(item, child, sealed=sealed)
                elif is_credential_name(str(key)) and not self._allowed(str(key), item, child, sealed):
                    self.report(child, f"{key}", "plaintext credential")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.walk(item, f"{where}[{index}]", sealed=sealed)

    @staticmethod
    def _allowed(key: str, value: Any, where: str, sealed: bool) -> bool:
        if is_allowed_value(value):
            return True
        text = str(value)
        if sealed and ".encryptedData." in f".{where}" and _SEALED.match(text):
            return True
        return bool(_SECRET_OBJECT_KEY.match(key) and _K8S_NAME.match(text) and "-" in text)


def _fenced_blocks(text: str) -> Iterator[tuple[str, int, str]]:
    """(language, first line, body) of every fenced block of a Markdown text."""
    for match in re.finditer(r"^```([\w+-]*)[^\n]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        yield match.group(1).lower(), text.count("\n", 0, match.start(2)) + 1, match.group(2)


def _structured(path: Path, text: str) -> list[Finding]:
    pieces: list[tuple[str, int, str]] = []
    if path.suffix in {".yaml", ".yml"} and "{{" not in text:
        pieces.append(("yaml", 1, text))
    elif path.suffix == ".json":
        pieces.append(("json", 1, text))
    elif path.suffix == ".md":
        pieces.extend(block for block in _fenced_blocks(text) if block[0] in {"yaml", "yml", "json"})
    findings: list[Finding] = []
    for language, first_line, body in pieces:
        walker = _Walker(path, body, first_line)
        try:
            documents = [json.loads(body)] if language == "json" else list(yaml.safe_load_all(body))
        except (ValueError, yaml.YAMLError):
            continue  # illustrative fragments; the text pass still reads them
        for document in documents:
            walker.document(document)
        findings.extend(walker.findings)
    return findings


def _text(path: Path, text: str) -> list[Finding]:
    findings: list[Finding] = []
    template = "{{" in text and path.suffix in {".yaml", ".yml", ".tpl"}
    for number, line in enumerate(text.splitlines(), start=1):
        for what, pattern in _TEXT_PATTERNS:
            for match in pattern.finditer(line):
                value = match.groupdict().get("value")
                if value is not None and is_allowed_value(value.strip("'\"")):
                    continue
                findings.append(Finding(path, number, what))
        if template:
            match = _TEMPLATE_LINE.match(line)
            if match and is_credential_name(match["key"]):
                value = match["value"].strip("'\"")
                if not (is_allowed_value(value) or value in {"true", "false", "null"} or "{{" in value
                        or value.startswith(("{", "|", ">", "#"))):
                    findings.append(Finding(path, number, f"plaintext credential in template key {match['key']}"))
    return findings


def scan_file(path: Path) -> list[Finding]:
    """Every plaintext credential in one file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return []
    return _structured(path, text) + _text(path, text)


def scan(*roots: Path) -> list[Finding]:
    """Every plaintext credential in the text files under ``roots`` (files or folders)."""
    findings: list[Finding] = []
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if path.suffix in TEXT_SUFFIXES or path.name.startswith("."):
                findings.extend(scan_file(path))
    return findings
