# The guide's "Testing Background Tasks" example, verbatim apart from the import
# path; the name it uses without importing is imported first.
from aksara_testing import AksaraTestCase

from aksara_testing import capture_tasks

class TestBackgroundTasks(AksaraTestCase):
    async def test_creates_background_task(self):
        with capture_tasks() as tasks:
            response = await self.client.post("/api/send-email/")

        assert len(tasks) == 1
        assert tasks[0].name == "send_email"
