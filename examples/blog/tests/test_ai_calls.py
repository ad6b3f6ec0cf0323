"""The AI endpoint with mock_ai: what the app returns and what it asked the model."""

from aksara_testing import AksaraTestCase, mock_ai


class TestAIQuery(AksaraTestCase):
    async def test_answer_is_the_model_reply_and_the_question_is_the_prompt(self):
        with mock_ai(response="SELECT * FROM users") as ai:
            response = await self.client.post("/api/ai/query/", json={"query": "Get all users"})

        assert response.json() == {"sql": "SELECT * FROM users"}
        assert ai.call_count == 1
        assert ai.last_prompt == "Get all users"
        ai.assert_called_with_prompt("Answer with one SQL query.")
