# The guide's "Mock AI Services" example, verbatim apart from the import path
# (aksara.testing -> aksara_testing); AksaraTestCase, which the snippet uses
# without importing, is imported first.
from aksara_testing import AksaraTestCase

from aksara_testing import mock_ai

class TestAIFeatures(AksaraTestCase):
    async def test_ai_query(self):
        with mock_ai(response="SELECT * FROM users"):
            response = await self.client.post(
                "/api/ai/query/",
                json={"query": "Get all users"}
            )

            assert response.status_code == 200
