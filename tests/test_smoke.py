from __future__ import annotations

from tests.conftest import Api


async def test_admin_sees_the_subscriptions_of_their_tenant(api: Api) -> None:
    data = await api.data(
        "{ viewer { homeTenant { name subscriptions { totalCount } } } }",
        as_user="alex.admin@contoso.example",
    )
    assert data["viewer"]["homeTenant"]["name"] == "Contoso"
    assert data["viewer"]["homeTenant"]["subscriptions"]["totalCount"] == 11
