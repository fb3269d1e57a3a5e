import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


def test_production_settings_pass_check_deploy():
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "illuplatform.settings.production",
        "SECRET_KEY": "x" * 30 + "-production-check-Zq9#w1!" + "y" * 20,
        "ALLOWED_HOSTS": "illu.example.com",
        "DATABASE_URL": "sqlite:////tmp/illu-deploy-check.sqlite3",
        "STORAGE_BACKEND": "s3",
        "AWS_S3_ENDPOINT_URL": "https://s3.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose not installed")
def test_docker_compose_file_is_valid():
    result = subprocess.run(
        ["docker-compose", "config", "-q"],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "compose-check"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
