"""Schemathesis hooks for tests/api/schemathesis.sh: the valid answers are checked
against the document too, not only the refusals.

Generated data never holds a live control key, nor a PDF that this service signed, so on
their own the runs would never see a valid verification or an intact attestation. Among
the requests generated as valid, a share of the verifications (one, or the first item of
a batch) ask the signed-in graduate's real key with her birth name, and a share of the
file checks upload her real attestation; every answer that says so is counted in
SAND_ST_FIXTURES/seen.txt, which the script reads to prove both were exercised.

SAND_ST_FIXTURES names the directory where tests/api/session.py left valid.json and
attestation.pdf.
"""

import json
import os
import zlib

import schemathesis

FIXTURES = os.environ["SAND_ST_FIXTURES"]
with open(os.path.join(FIXTURES, "valid.json")) as f:
    VALID = json.load(f)
with open(os.path.join(FIXTURES, "attestation.pdf"), "rb") as f:
    ATTESTATION = f.read()


def _positive(case):
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


def _chosen(case):
    """About one case in three, the same ones for the same data (replays stay exact)."""
    return zlib.crc32(repr(case.body).encode()) % 3 == 0


@schemathesis.hook
def before_call(context, case, kwargs):
    if not _positive(case) or not _chosen(case):
        return
    path = case.operation.path
    if path == "/verifications" and isinstance(case.body, dict):
        case.body = {**case.body, "cle": VALID["cle"], "nom": VALID["nom"]}
        case.body.pop("date_naissance", None)
    elif path == "/verifications/lot" and isinstance(case.body, dict) and case.body.get("verifications"):
        items = list(case.body["verifications"])
        items[0] = {"cle": VALID["cle"], "nom": VALID["nom"]}
        case.body = {**case.body, "verifications": items}
    elif path == "/attestations/controle":
        case.body = ATTESTATION


@schemathesis.hook
def after_call(context, case, response):
    path = case.operation.path
    if response.status_code != 200 or path not in ("/verifications", "/verifications/lot", "/attestations/controle"):
        return
    try:
        answer = response.json()
    except ValueError:
        return
    seen = []
    if path == "/verifications" and answer.get("valide") is True:
        seen.append("valide")
    elif path == "/verifications/lot" and any(r.get("valide") for r in answer.get("resultats", [])):
        seen.append("valide_lot")
    elif path == "/attestations/controle" and answer.get("verdict") == "intacte":
        seen.append("intacte")
    if seen:
        with open(os.path.join(FIXTURES, "seen.txt"), "a") as f:
            f.write("\n".join(seen) + "\n")
