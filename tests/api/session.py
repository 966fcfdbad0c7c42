#!/usr/bin/env python3
"""Signs a graduate in on a running demo service and attaches their diploma, so that
schemathesis can exercise the signed-in operations (not only their 401 answers).

    python3 tests/api/session.py http://127.0.0.1:PORT [FIXTURE_DIR]

Creates a profile with the first demonstration identity (Camille Marie Durand, born
2003-04-12; her baccalauréat général 2021 is in the demo data of académie 10), confirms
it through the link the demo site shows, attaches the diploma with the JSON API, and
prints the session cookie as a `Cookie: name=value` header line. With FIXTURE_DIR, also
downloads the attestation there (attestation.pdf) and writes valid.json (the control key
and the birth name that verify it), for tests/api/hooks.py. Fails loudly otherwise.
"""

import http.cookiejar
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = sys.argv[1].rstrip("/")
FIXTURES = sys.argv[2] if len(sys.argv) > 2 else None
PASSWORD = "cheval agrafe batterie schemathesis"
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def fail(message):
    sys.exit(f"session.py: {message}")


def get(path):
    with opener.open(BASE + path) as r:
        return r.read().decode()


def post_form(path, fields):
    data = urllib.parse.urlencode(fields).encode()
    with opener.open(urllib.request.Request(BASE + path, data=data)) as r:
        return r.read().decode()


def csrf(page):
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    if not m:
        fail("no CSRF token in the page")
    return m.group(1)


identity = {
    "nom": "Durand",
    "prenoms": "Camille Marie",
    "naissance": "12/04/2003",
    "email": f"schemathesis-{int(time.time() * 1000)}@exemple.fr",
}
step1 = post_form("/compte/creer", {"csrf": csrf(get("/compte/creer")), **identity})
done = post_form(
    "/compte/creer/confirmer",
    {"csrf": csrf(step1), **identity, "mot_de_passe": PASSWORD, "confirmation": PASSWORD},
)
link = re.search(r'href="[^"]*(/compte/confirmer\?jeton=[^"]+)"', done)
if not link:
    fail("the demo site showed no confirmation link")
confirm = get(link.group(1).replace("&amp;", "&"))
token = urllib.parse.parse_qs(urllib.parse.urlparse(link.group(1)).query)["jeton"][0]
space = post_form(
    "/compte/confirmer",
    {"csrf": csrf(confirm), "jeton": token, "mot_de_passe": PASSWORD},
)
if "Mon espace" not in space:
    fail("confirming the address did not sign in")
request = urllib.request.Request(
    BASE + "/api/v1/moi/diplomes",
    data=json.dumps({"diplome": "BACG", "session": 2021, "academie": "10"}).encode(),
    headers={"Content-Type": "application/json"},
)
try:
    with opener.open(request) as r:
        attached = json.loads(r.read())
except urllib.error.HTTPError as e:
    fail(f"the demo diploma was not attached: {e.code} {e.read().decode()}")
if not attached.get("cle"):
    fail(f"the demo diploma was not attached: {attached}")
if FIXTURES:
    try:
        with opener.open(f"{BASE}/api/v1/moi/diplomes/{attached['id']}/attestation") as r:
            pdf = r.read()
    except urllib.error.HTTPError as e:
        fail(f"the attestation could not be downloaded: {e.code}")
    if not pdf.startswith(b"%PDF-"):
        fail("the attestation is not a PDF")
    with open(f"{FIXTURES}/attestation.pdf", "wb") as f:
        f.write(pdf)
    with open(f"{FIXTURES}/valid.json", "w") as f:
        json.dump({"cle": attached["cle"], "nom": identity["nom"]}, f)
session = [c for c in jar if "session" in c.name]
if not session:
    fail("no session cookie")
print(f"Cookie: {session[0].name}={session[0].value}")
