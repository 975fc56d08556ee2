"""GraphQL documents the tests send: the frontend's own operations (with their fragments) from
frontend-contract/operations/ wherever the frontend has one, so the tests exercise what the
React app sends."""

from tests.frontend_contract.contract import operation_document

ME = operation_document("LoginState")

MODELS = operation_document("ModelCatalogue")

# No page of the frontend reads a single model.
MODEL = "query Model($id: ID!) { model(id: $id) { id name available } }"

SUBSCRIPTIONS = operation_document("MySubscriptions")

SUBSCRIPTION_CREATE = operation_document("SubscriptionCreate")

SUBSCRIPTION_CANCEL = operation_document("SubscriptionCancel")

API_KEYS = operation_document("MyApiKeys")

# No page of the frontend reads a single key.
API_KEY = "query Key($id: ID!) { apiKey(id: $id) { id status modelAccess { id } } }"

API_KEY_CREATE = operation_document("ApiKeyCreate")

API_KEY_REVOKE = operation_document("ApiKeyRevoke")

API_KEY_UPDATE = operation_document("ApiKeyUpdate")

API_KEY_ROTATE = operation_document("ApiKeyRotate")

MY_BUDGET = operation_document("MyBudget")

SUBSCRIBE_WITH_KEY = operation_document("SubscribeWithKey")

MODEL_ACCESS = operation_document("ModelAccessCheck")

LITELLM_SYNC_RETRY = operation_document("LitellmSyncRetry")

HEALTH = operation_document("HealthDashboard")

SIGN_OUT_EVERYWHERE = operation_document("SignOutEverywhere")

SUBSCRIPTION_REQUESTS = operation_document("SubscriptionRequests")

SUBSCRIPTION_APPROVE = operation_document("SubscriptionApprove")

SUBSCRIPTION_DENY = operation_document("SubscriptionDeny")

SUBSCRIPTION_REVERT = operation_document("SubscriptionRevert")

SUBSCRIPTION_SUSPEND = operation_document("SubscriptionSuspend")

SUBSCRIPTION_REACTIVATE = operation_document("SubscriptionReactivate")

USER_LIST = operation_document("UserList")

USER_UPDATE = operation_document("UserUpdate")

USER_SYNC_RETRY = operation_document("UserSyncRetry")

AUDIT_EVENTS = operation_document("AuditEvents")

MODEL_UPDATE = operation_document("ModelUpdate")

MODEL_ACCESS_ENFORCEMENT = operation_document("ModelAccessEnforcement")

MODEL_ACCESS_ENFORCEMENT_UPDATE = operation_document("ModelAccessEnforcementUpdate")
