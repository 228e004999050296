"""SecretRedactor on its own: every type, the shapes secrets take in code and patches, and
what must be left alone."""

from __future__ import annotations

import msgspec
import pytest

from gitlm.privacy import SECRET_TYPES, SecretRedactor
from gitlm.schema import Chunk, Commit, CommitMeta, FileChange
from tests.privacy_fixtures import MESSAGE_TOKEN, PRIVATE_KEY, PRIVATE_KEY_BODY, _j, planted_secrets


@pytest.mark.parametrize("planted", planted_secrets(), ids=lambda p: p.type)
def test_each_planted_type_becomes_its_placeholder(planted):
    redactor = SecretRedactor()
    out = redactor.redact(planted.line, planted.path)
    assert out == planted.line.replace(planted.value, f"<SECRET:{planted.type}>")
    assert dict(redactor.counts) == {planted.type: 1}
    assert planted.type in SECRET_TYPES


def test_private_key_block_keeps_its_lines_and_counts_once():
    redactor = SecretRedactor()
    assert redactor.redact(PRIVATE_KEY) == (
        "-----BEGIN RSA PRIVATE KEY-----\n" + "<SECRET:private_key>\n" * 3 + "-----END RSA PRIVATE KEY-----\n"
    )
    patch = "diff --git a/k b/k\n@@ -0,0 +1,5 @@\n" + "".join(f"+{line}\n" for line in PRIVATE_KEY.splitlines())
    assert redactor.redact(patch, "k") == (
        "diff --git a/k b/k\n@@ -0,0 +1,5 @@\n+-----BEGIN RSA PRIVATE KEY-----\n"
        + "+<SECRET:private_key>\n" * 3 + "+-----END RSA PRIVATE KEY-----\n"
    )
    assert dict(redactor.counts) == {"private_key": 2}


def test_private_key_escaped_in_json_and_cut_without_end():
    redactor = SecretRedactor()
    body = "\\n".join(PRIVATE_KEY_BODY)
    service_account = '{"private_key": "-----BEGIN PRIVATE KEY-----\\n' + body + '\\n-----END PRIVATE KEY-----\\n", "id": 1}'
    assert redactor.redact(service_account, "sa.json") == (
        '{"private_key": "-----BEGIN PRIVATE KEY-----\\n<SECRET:private_key>\\n-----END PRIVATE KEY-----\\n", "id": 1}'
    )
    cut = "+-----BEGIN OPENSSH PRIVATE KEY-----\n+" + PRIVATE_KEY_BODY[0] + "\n+" + PRIVATE_KEY_BODY[1][:20]
    assert redactor.redact(cut) == "+-----BEGIN OPENSSH PRIVATE KEY-----\n+<SECRET:private_key>\n+<SECRET:private_key>"


def test_putty_private_lines_and_mac():
    redactor = SecretRedactor()
    ppk = ("PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nPublic-Lines: 1\nAAAAB3NzaC1yc2EAAAABJQAAAQEA\n"
           f"Private-Lines: 2\n{PRIVATE_KEY_BODY[0]}\n{PRIVATE_KEY_BODY[1]}\nPrivate-MAC: 4b6f3e1d2c0a9f8e7d6c5b4a\n")
    out = redactor.redact(ppk)
    assert out == ("PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nPublic-Lines: 1\nAAAAB3NzaC1yc2EAAAABJQAAAQEA\n"
                   "Private-Lines: 2\n<SECRET:private_key>\n<SECRET:private_key>\nPrivate-MAC: <SECRET:private_key>\n")


@pytest.mark.parametrize("text", [
    'password = "password"',  # a placeholder word
    'SECRET_KEY = os.environ["SECRET_KEY"]',  # a reference
    "token = get_token(user)",
    'api_key = "<your-api-key>"',
    "password: ${DB_PASSWORD}",
    "url = 'https://user:password@example.com/'",
    "DATABASE_URL = 'postgres://app:${PGPASSWORD}@db/app'",
    "index 3f9a7c2e8b1d..4f6a0c5e9b2d 100644",
    "tokens = tokenizer(text)",
    "sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'",  # a hash, not assigned to a secret name
    "app.secret_key = 'development key'",  # plain words
    "SECRET_KEY = 'dev'",  # too short
    "password = 'aaaaaaaaaaaa'",  # no entropy
    "commit 0123456789abcdef0123456789abcdef01234567",
    "The AKIA prefix marks an AWS key id",
    '"github_token": "GitHub token (ghp_/gho_/ghu_/ghs_/ghr_, github_pat_)",',  # prose
    'TOKENIZED_JSONL = "tokens/tokenized_commits.jsonl"',  # a path made of words
    'expected = "-----BEGIN RSA PRIVATE KEY-----\\n" + body + "-----END RSA PRIVATE KEY-----\\n"',  # code about keys
])
def test_not_secrets_are_left_alone(text):
    redactor = SecretRedactor()
    assert redactor.redact(text, "app.py") == text
    assert not redactor.counts


def test_unquoted_values_only_in_config_files():
    redactor = SecretRedactor()
    value = _j("abcDEF123", "ghiJKL456")
    assert redactor.redact(f"TOKEN={value}", "app.py") == f"TOKEN={value}"  # code: could be an expression
    assert redactor.redact(f"TOKEN={value}", "deploy/.env") == "TOKEN=<SECRET:token>"
    assert redactor.redact(f"api_key: {value}", "config.yaml") == "api_key: <SECRET:api_key>"
    assert redactor.redact(f"export API_TOKEN={value}") == "export API_TOKEN=<SECRET:token>"  # messages: no path


def test_python_bytes_literal_and_reversed_comparison():
    redactor = SecretRedactor()
    assert redactor.redact("SECRET_KEY = b'_5#y2L\"F4Q8z\\n\\xec]/'", "app.py") == "SECRET_KEY = b'<SECRET:secret>'"
    value = _j("Xk9#mQ2", "$vL7pWz")
    assert redactor.redact(f'if "{value}" == user_password:', "auth.py") == 'if "<SECRET:password>" == user_password:'


def test_every_occurrence_on_a_line_and_several_lines():
    redactor = SecretRedactor()
    token = planted_secrets()[2].value
    text = f"a {token} b {token}\nnothing here\nGITHUB_TOKEN={token}\n"
    assert redactor.redact(text) == "a <SECRET:github_token> b <SECRET:github_token>\nnothing here\nGITHUB_TOKEN=<SECRET:github_token>\n"
    assert redactor.counts["github_token"] == 3


def test_long_minified_line_is_scanned_in_windows():
    redactor = SecretRedactor()
    aws = planted_secrets()[0].value
    line = "var a=1;" * 8000 + f'var k="{aws}";' + "var b=2;" * 8000
    assert redactor.redact(line, "app.min.js") == line.replace(aws, "<SECRET:aws_access_key>")


def test_non_ascii_text_keeps_offsets_right():
    redactor = SecretRedactor()
    token = planted_secrets()[2].value
    text = f"héllo wörld 🎉 {token} ünïcode\npassword = 'Zß9#kq2LmP7v!'"
    assert redactor.redact(text) == "héllo wörld 🎉 <SECRET:github_token> ünïcode\npassword = '<SECRET:password>'"
    raw = text.encode()
    assert SecretRedactor().redact(text, raw=raw) == redactor.redact(text)


def test_disabled_redactor_changes_nothing_and_scan_has_no_values():
    token = planted_secrets()[2].value
    assert SecretRedactor(enabled=False).redact(f"t={token}") == f"t={token}"
    [finding] = SecretRedactor().scan(f"t={token}")
    assert (finding.type, finding.start, finding.end) == ("github_token", 2, 2 + len(token))
    assert token not in repr(finding)


def test_scrub_does_not_count():
    redactor = SecretRedactor()
    assert redactor.scrub(f"x {MESSAGE_TOKEN}") == "x <SECRET:github_token>"
    assert not redactor.counts


def _commit(message_body: str, patch: str) -> Commit:
    change = FileChange(path="a.py", old_path=None, change_type="A", similarity=None, insertions=1, deletions=0,
                        is_binary=False, is_submodule=False, is_symlink=False, language="python", patch=patch,
                        patch_truncated=False, change_frequency=0, author_ownership=0.0)
    return Commit(hash="0" * 40, abbrev_hash="0000000", parents=[], is_merge=False, commit_number=0,
                  author_name="A", author_email="a@example.com", author_timestamp=0, author_date="",
                  committer_name="A", committer_email="a@example.com", committer_timestamp=0, committer_date="",
                  co_authors=[], message_subject="subject", message_body=message_body, conventional_type=None,
                  conventional_scope=None, is_breaking_change=False, referenced_issues=[], branches=[], tags=[],
                  has_tags=False, files=[change], files_added=["a.py"], files_modified=[], files_deleted=[],
                  files_renamed=[], insertions=1, deletions=0, files_changed=1, total_lines_changed=1,
                  diff_summary="", stats={}, complexity=0.0)


def test_redact_commit_and_chunk_records():
    redactor = SecretRedactor()
    planted = planted_secrets()
    commit = _commit(f"token {MESSAGE_TOKEN}", f"+{planted[0].line}\n")
    clean = redactor.redact_commit(commit)
    assert clean.message_body == "token <SECRET:github_token>"
    assert clean.files[0].patch == '+AWS_ACCESS_KEY_ID = "<SECRET:aws_access_key>"\n'
    assert commit.files[0].patch == f"+{planted[0].line}\n", "the input record is not modified"
    untouched = _commit("nothing", "+x = 1\n")
    assert redactor.redact_commit(untouched) is untouched

    chunk = Chunk(chunk_id="c_0", commit_hash="0" * 40, commit_number=0, file_path="settings.py", old_path=None,
                  language="python", change_category="M", change_type="modified_function", unit_kind="function",
                  function_name="f", module_path=None, old_code=f"def f():\n    {planted[9].line}\n",
                  new_code="def f():\n    return os.environ['DB_PASSWORD']\n", patch=f"-    {planted[9].line}\n",
                  line_range=[1, 2], additions=1, deletions=1,
                  commit_meta=CommitMeta(author="A", email="a@example.com", timestamp=0, subject=f"rotate {MESSAGE_TOKEN}"),
                  related_files=[], token_estimate=10)
    clean_chunk = redactor.redact_chunk(chunk)
    encoded = msgspec.json.encode(clean_chunk).decode()
    assert planted[9].value not in encoded and MESSAGE_TOKEN not in encoded
    assert clean_chunk.old_code == 'def f():\n    DB_PASSWORD = "<SECRET:password>"\n'
    assert clean_chunk.commit_meta.subject == "rotate <SECRET:github_token>"
    assert redactor.stats() == {"secrets_redacted": 5, "secrets_by_type": {"aws_access_key": 1, "github_token": 2, "password": 2}}
