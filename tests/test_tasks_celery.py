"""capture_tasks with real Celery tasks: an in-memory broker whose queue shows what was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from celery import Celery
from celery.result import AsyncResult, EagerResult
from fastapi import FastAPI

from aksara_testing import AksaraClient, capture_tasks

celery_app = Celery("shop", broker="memory://", set_as_current=False)
done: list[Any] = []


@celery_app.task(name="shop.add")
def add(x: int, y: int) -> int:
    done.append(("add", x, y))
    return x + y


@celery_app.task(bind=True, name="emails.send")
def send_receipt(self: Any, to: str) -> str:
    done.append(("receipt", to, self.request.id))
    return to


@celery_app.task(name="shop.broken")
def broken() -> None:
    raise ValueError("no stock")


@celery_app.task(name="shop.checkout")
def checkout(order: int) -> int:
    send_receipt.delay(f"order-{order}@example.com")  # a task that schedules another
    return order


web = FastAPI()


@web.post("/orders/{order}")
def place_order(order: int) -> dict[str, str]:
    result = checkout.delay(order)
    return {"task_id": result.id}


def queued() -> int:
    """Messages waiting in the broker's default queue."""
    with celery_app.connection_for_write() as connection:
        queue = connection.SimpleQueue("celery")
        try:
            return int(queue.qsize())
        finally:
            queue.close()


@pytest.fixture(autouse=True)
def _empty() -> Iterator[None]:
    done.clear()
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")
    yield


@pytest.fixture
async def client() -> AsyncIterator[AksaraClient]:
    async with AksaraClient(web) as test_client:
        yield test_client


def test_delay_and_apply_async_are_held_and_send_nothing() -> None:
    with capture_tasks() as tasks:
        first = add.delay(1, 2)
        second = send_receipt.apply_async(("ann@example.com",), countdown=60, queue="mail")

    assert [(t.name, t.args, t.kwargs, t.backend) for t in tasks] == [
        ("shop.add", (1, 2), {}, "celery"),
        ("emails.send", ("ann@example.com",), {}, "celery"),
    ]
    assert tasks[1].options == {"countdown": 60, "queue": "mail", "task_id": second.id}
    assert isinstance(first, AsyncResult) and isinstance(second, AsyncResult)
    assert tasks[0].options["task_id"] == first.id != second.id
    assert queued() == 0
    assert done == []


def test_outside_a_block_tasks_go_to_the_broker() -> None:
    with capture_tasks():
        pass  # installs the backends

    add.delay(1, 2)

    assert queued() == 1
    assert done == []


async def test_run_uses_the_id_the_caller_got_and_returns_the_result() -> None:
    with capture_tasks() as tasks:
        result = send_receipt.delay("ann@example.com")
        add.apply_async((2, 3), kwargs={}, task_id="fixed-id")

    assert await tasks.run_all() == ["ann@example.com", 5]
    assert done == [("receipt", "ann@example.com", result.id), ("add", 2, 3)]


async def test_named_matches_the_last_part_of_a_dotted_task_name() -> None:
    with capture_tasks() as tasks:
        add.delay(1, 1)
        send_receipt.delay("ann@example.com")

    assert [t.name for t in tasks.named("add")] == ["shop.add"]
    assert [t.name for t in tasks.named("emails.send")] == ["emails.send"]
    assert tasks.named("send") == tasks.named("emails.send")


async def test_a_failing_task_raises_from_run() -> None:
    with capture_tasks() as tasks:
        broken.delay()

    with pytest.raises(ValueError, match="no stock"):
        await tasks[0].run()


def test_wrong_arguments_fail_at_the_call_as_celery_checks_them() -> None:
    with capture_tasks() as tasks, pytest.raises(TypeError, match="missing 1 required"):
        add.delay(1)

    assert tasks == []


def test_signatures_are_captured() -> None:
    with capture_tasks() as tasks:
        add.s(4, 5).delay()
        add.si(6, 7).apply_async(countdown=1)

    assert [t.args for t in tasks] == [(4, 5), (6, 7)]
    assert queued() == 0


def test_run_true_runs_tasks_inline_and_returns_an_eager_result() -> None:
    with capture_tasks(run=True) as tasks:
        result = add.delay(2, 2)
        failed = broken.delay()

    assert isinstance(result, EagerResult)
    assert result.get() == 4
    assert failed.failed()  # kept in the result, as Celery's eager mode keeps it
    assert [t.name for t in tasks] == ["shop.add", "shop.broken"]
    assert done == [("add", 2, 2)]
    assert queued() == 0


async def test_tasks_scheduled_by_a_request_and_by_tasks_are_captured_and_drained(
    client: AksaraClient,
) -> None:
    with capture_tasks() as tasks:
        response = await client.post("/orders/7")  # a def endpoint: runs in a worker thread

    assert [t.name for t in tasks] == ["shop.checkout"]
    assert response.json() == {"task_id": tasks[0].options["task_id"]}

    assert await tasks.run_all() == [7, "order-7@example.com"]
    assert [t.name for t in tasks] == ["shop.checkout", "emails.send"]
    assert queued() == 0
