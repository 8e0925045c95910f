"""``dropml local`` commands that need no running stack: mail listing, refusals, status when down."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from cli.main import main
from local import mail, stack
from local.ports import free_port


@pytest.fixture
def dropml_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DROPML_HOME", str(tmp_path))
    return tmp_path


def test_mail_lists_the_outbox_with_date_recipient_subject_and_file(
    dropml_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN two messages delivered to port 4999's outbox through the SMTP sink
    outbox = dropml_home / "local-4999" / "outbox"
    sink = mail.start_sink(outbox, port=free_port())
    try:
        mail.send(smtp_port=sink.port, to="ana@example.com", subject="dropml: data prepared", body="one")
        mail.send(smtp_port=sink.port, to="bo@example.com", subject="dropml: run failed", body="two")
    finally:
        sink.stop()

    # WHEN a person lists the mail, then a script does
    assert main(["local", "mail", "--port", "4999"]) == 0
    listing = capsys.readouterr().out
    assert main(["local", "mail", "--port", "4999", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)

    # THEN both show who, what and where the .eml file is, oldest first
    assert [(item["to"], item["subject"]) for item in items] == [
        ("ana@example.com", "dropml: data prepared"),
        ("bo@example.com", "dropml: run failed"),
    ]
    assert all(Path(item["path"]).parent == outbox and item["date"] for item in items)
    assert "ana@example.com  dropml: data prepared" in listing
    assert items[1]["path"] in listing


def test_mail_with_an_empty_outbox_says_so(dropml_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "mail", "--port", "4999"]) == 0
    assert capsys.readouterr().out.strip() == "no mail yet"


def test_status_and_down_when_nothing_runs(dropml_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "status", "--port", "4999"]) == 1
    assert "not running on port 4999" in capsys.readouterr().out
    assert main(["local", "status", "--port", "4999", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {"port": 4999, "running": False}
    assert main(["local", "down", "--port", "4999"]) == 0
    assert "not running" in capsys.readouterr().out


def test_up_refuses_a_port_another_program_uses(dropml_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", 0))
        other_program.listen()
        port = other_program.getsockname()[1]

        assert main(["local", "up", "--port", str(port)]) == 2

    assert f"port {port} is in use by another program" in capsys.readouterr().err
    assert not (dropml_home / f"local-{port}" / "server.json").exists()


def test_a_stale_pid_of_another_program_is_never_taken_for_the_server(
    dropml_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN state left by a server whose pid now belongs to another program (this test process)
    state = dropml_home / "local-4999"
    state.mkdir()
    (state / "server.json").write_text(json.dumps({"pid": os.getpid(), "port": 4999, "smtp_port": 1}))

    # WHEN local mode is stopped, THEN nothing is killed and status says it is not running
    assert main(["local", "down", "--port", "4999"]) == 0
    assert "not running" in capsys.readouterr().out
    assert main(["local", "status", "--port", "4999"]) == 1


def test_up_refuses_another_email_for_a_kept_stack(
    dropml_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a stack kept from the last down, deployed to email ana@example.com
    kept = {"Parameters": [{"ParameterKey": "NotificationEmail", "ParameterValue": "ana@example.com"}]}
    stopped: list[int] = []

    def down(port: int, **_: object) -> bool:
        stopped.append(port)
        return True

    monkeypatch.setattr(stack, "start_server", lambda _stack: None)
    monkeypatch.setattr(stack, "_deployed", lambda _stack: kept)
    monkeypatch.setattr(stack, "down", down)
    port = free_port()

    # WHEN it is started again with another address
    assert main(["local", "up", "--port", str(port), "--email", "bo@example.com"]) == 2

    # THEN up refuses, saying which address the stack emails and how to change it, and stops it again
    error = capsys.readouterr().err
    assert "emails ana@example.com" in error and "dropml local down --discard" in error
    assert stopped == [port]
    # AND without --email, or with the same address, it starts the kept stack
    assert main(["local", "up", "--port", str(port)]) == 0
    assert main(["local", "up", "--port", str(port), "--email", "ana@example.com"]) == 0
