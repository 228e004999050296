"""Fake secrets of every type gitlm redacts, and a history that adds then removes them.

The values are assembled at run time from pieces, so this file itself holds no string a
secret scanner (gitlm's own, GitHub's push protection) would take for a credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.gitrepo import GitRepo


def _j(*parts: str) -> str:
    return "".join(parts)


@dataclass(frozen=True)
class Planted:
    type: str  # the placeholder type gitlm must use
    path: str  # the file it is committed in
    line: str  # the line as committed (contains value)
    value: str  # the secret itself


def planted_secrets() -> list[Planted]:
    aws_id = _j("AKIA", "Q3EGRTLW5JXHZ7NP")
    aws_secret = _j("q8Jd0Zs/3kTwPxR9", "vNmB2yLcA7eHf5GuWi4oKtXz")
    github = _j("gh", "p_", "4xT9kLmQ2vR7sW1zY8bN3cD6fH0jK5pAq9Ee")
    gitlab = _j("gl", "pat-", "Xy7kP2mQ9rT4vW1zB8nC")
    slack = _j("xo", "xb-", "2748392019-8273649182736-Kq8dLm2PzX7vR4tY9wN3cB1s")
    webhook = _j("https://hooks.", "slack.com/services/", "T0A1B2C3D/B9Z8Y7X6W/q1w2e3r4t5y6u7i8o9p0a1s2")
    stripe = _j("sk", "_live_", "4eC39HqLyjWDarjtT1zdp7dc9Xk2")
    jwt = _j("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", ".", "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ",
             ".", "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
    url_password = _j("Zx9", "$kq2LmP7v")
    password = _j("Tr0ub4", "dor&3xK9")
    secret = _j("8f3kLq0", "Zp2Xv7NcR4tYw")
    token = _j("a7F3kQ9z", "L2mX8vB4nR6tW1yC")
    api_key = _j("3f9a7c2e8b1d", "4f6a0c5e9b2d7f1a3c8e")
    sendgrid = _j("SG", ".", "ngeVfQFYQlKU0ufo8x5d1A", ".", "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr")
    pypi = _j("pypi-", "AgEIcHlwaS5vcmc", "CJGQ4ZjE3NTJlLTk1NzktNDZlMi04ZmI5LWYyNWEzYjg1ZTYxZQACKlszLCI5YmQ0ZjM2", "ZWQtNGE5Ny05ZTFjLTI5ZDM4YmE2NmQ0MSJdAAAGIBwLxs")
    twilio = _j("A", "C", "3f8b2c9d0e1a4b5c6d7e8f9a0b1c2d3e")
    return [
        Planted("aws_access_key", "config/settings.py", f'AWS_ACCESS_KEY_ID = "{aws_id}"', aws_id),
        Planted("aws_secret_key", "config/settings.py", f'AWS_SECRET_ACCESS_KEY = "{aws_secret}"', aws_secret),
        Planted("github_token", ".env", f"GITHUB_TOKEN={github}", github),
        Planted("gitlab_token", "ci/deploy.yml", f"  registry_login: {gitlab}", gitlab),
        Planted("slack_token", "config/settings.py", f'SLACK_BOT = "{slack}"', slack),
        Planted("slack_webhook", "config/settings.py", f'ALERTS = "{webhook}"', webhook),
        Planted("stripe_key", "app/billing.js", f'const stripe = require("stripe")("{stripe}");', stripe),
        Planted("jwt", "tests/fixtures.json", f'{{"session": "{jwt}"}}', jwt),
        Planted("url_credentials", "config/settings.py", f'DATABASE_URL = "postgres://admin:{url_password}@db.internal:5432/app"', url_password),
        Planted("password", "config/settings.py", f'DB_PASSWORD = "{password}"', password),
        Planted("secret", "ci/deploy.yml", f"  client_secret: {secret}", secret),
        Planted("token", "app/client.py", f'refresh_token = "{token}"', token),
        Planted("api_key", "app/client.py", f'WEATHER_API_KEY = "{api_key}"', api_key),
        Planted("sendgrid_key", "app/mail.py", f'sg = SendGridAPIClient("{sendgrid}")', sendgrid),
        Planted("pypi_token", ".pypirc", f"password = {pypi}", pypi),
        Planted("twilio_key", "app/sms.py", f'ACCOUNT = "{twilio}"', twilio),
    ]


PRIVATE_KEY_BODY = [
    _j("MIIEowIBAAKCAQEAyV5cVe8Hq0zPpD2P", "z0XqW9xG3pYbX0hZcLk7gC2uVq9mQy8a"),
    _j("Zk2m9Qd3Jr7Lp0Wv5Tn8Xe1Hc4Bf6Ys2", "Ug9Ri3Oa7Kl5Mj0Nh8Pz1Qx4Vw6Ey2Ct"),
    _j("+7aQz9bR8cS7dT6eU5fV4gW3hX2iY1jZ", "0kA9lB8mC7nD6oE5pF4qG3rH2sI1tJ0u"),
]
PRIVATE_KEY = "\n".join([_j("-----BEGIN RSA ", "PRIVATE KEY-----"), *PRIVATE_KEY_BODY, _j("-----END RSA ", "PRIVATE KEY-----")]) + "\n"
MESSAGE_TOKEN = _j("gh", "p_", "Mq3kZ8vT1xL6nR9wB2cY5dF7hJ0sP4aE2gUi")


def all_types() -> list[str]:
    return sorted({p.type for p in planted_secrets()} | {"private_key"})


def leak_needles() -> list[str]:
    """Every string that must never appear in an output: each secret, each private key
    line, the token planted in a commit message."""
    return [p.value for p in planted_secrets()] + PRIVATE_KEY_BODY + [MESSAGE_TOKEN]


def build_secret_history(make_repo) -> GitRepo:
    """Commit 1 adds code with every secret (and a key file); commit 2 changes something
    else, with a token in its message; commit 3 removes every secret; commit 4 is clean."""
    repo = make_repo("leaky")
    files: dict[str, list[str]] = {}
    for planted in planted_secrets():
        files.setdefault(planted.path, []).append(planted.line)
    for path, lines in files.items():
        repo.write(path, "# settings\n" + "\n".join(lines) + "\nDEBUG = True\n")
    repo.write("keys/deploy_key", PRIVATE_KEY)
    repo.write("app/main.py", "def main():\n    return 'hello'\n")
    repo.commit("feat: wire up the services")
    repo.write("app/main.py", "def main():\n    return 'hello, world'\n")
    repo.commit(f"fix: greet the world\n\nDebugged with GITHUB_TOKEN={MESSAGE_TOKEN} (rotated).\n")
    for path in files:
        repo.write(path, "# settings\nimport os\nDEBUG = True\nCREDENTIALS = os.environ\n")
    (Path(repo.path) / "keys" / "deploy_key").unlink()
    repo.commit("chore: move secrets to the environment")
    repo.write("app/main.py", "def main():\n    return 'hello, everyone'\n")
    repo.commit("feat: greet everyone")
    return repo


def files_containing(root: Path, needles: list[str]) -> dict[str, list[str]]:
    """{needle: [relative paths of files under root whose bytes contain it]}."""
    found: dict[str, list[str]] = {}
    encoded = [(n, n.encode()) for n in needles]
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        data = path.read_bytes()
        for needle, raw in encoded:
            if raw in data:
                found.setdefault(needle, []).append(str(path.relative_to(root)))
    return found
