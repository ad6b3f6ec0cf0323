"""Masking passwords in text: every printable form of a URL's password becomes ``***``."""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

import pytest

from aksara_testing._scrubber import Scrubber, passwords_in

SECRET = "S3cr3t:p@ss/w0rd"
ENCODED = quote(SECRET, safe="")
LOWER_HEX = re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), ENCODED)
REPLICA = f"postgresql+asyncpg://reporter:{ENCODED}@127.0.0.1:1/test_replica"


def scrubber_for(*urls: str) -> Scrubber:
    scrubber = Scrubber()
    for url in urls:
        scrubber.add(passwords_in(url))
    return scrubber


def test_passwords_are_read_from_user_info_and_query_as_sqlalchemy_reads_them() -> None:
    text = f"a {REPLICA} and postgresql://app@db/app?sslmode=require&password=a%2Bb+c end"
    found = passwords_in(text)

    assert [p.value for p in found] == [SECRET, "a+b c"]
    assert {"reporter", "127.0.0.1", "test_replica", "asyncpg"} <= found[0].public


@pytest.mark.parametrize(
    "form",
    [SECRET, ENCODED, LOWER_HEX, quote(SECRET, safe=" +"), quote_plus(SECRET, safe="")],
)
def test_plain_and_percent_encoded_forms_are_masked(form: str) -> None:
    assert scrubber_for(REPLICA)(f"got {form} here") == "got *** here"


def test_escaped_forms_are_masked() -> None:
    password = 'Quo"te\\d'
    scrub = scrubber_for(f"postgresql://app:{quote(password, safe='')}@db/app")

    assert scrub(repr(password)) == "'***'"
    assert scrub(f'{{"password": "{password.replace(chr(92), chr(92) * 2)}"}}') == (
        '{"password": "***"}'
    )


def test_a_password_is_masked_as_a_whole_word_only() -> None:
    scrub = scrubber_for("postgresql://app:hunter22@db/app")

    assert scrub("hunter22 (hunter22) hunter22x xhunter22 hunter22_") == (
        "*** (***) hunter22x xhunter22 hunter22_"
    )


def test_short_passwords_and_shown_names_are_masked_only_where_they_are_passwords() -> None:
    scrub = scrubber_for("postgresql://app:abc@db/app", "postgresql://pg:pg@db/pg")

    assert scrub("postgresql://app:abc@db/app abc") == "postgresql://app:***@db/app abc"
    assert scrub("User(name='pg', password='pg', database='pg')") == (
        "User(name='pg', password='***', database='pg')"
    )
    assert scrub("password   = 'abc'") == "password   = '***'"  # pytest's -l locals
    assert scrub("{'db_password': 'abc'}") == "{'db_password': '***'}"
    assert scrub("host=db password=abc dbname=app") == "host=db password=*** dbname=app"
    assert scrub("PGPASSWORD=abc") == "PGPASSWORD=***"


def test_a_password_that_is_a_label_is_masked_only_where_it_is_a_password() -> None:
    scrub = scrubber_for("postgresql://app:password@db/app")

    assert scrub("Params(password='password')") == "Params(password='***')"


def test_a_password_cut_in_two_by_pytests_repr_is_masked() -> None:
    scrub = scrubber_for(REPLICA)
    cut = f"url = 'postgresql+asyncpg://reporter:{ENCODED[:10]}...{ENCODED[-7:]}@127.0.0.1:1'"

    assert scrub(cut) == "url = 'postgresql+asyncpg://reporter:***...***@127.0.0.1:1'"
