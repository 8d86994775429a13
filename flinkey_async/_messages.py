"""The messages the flinkey API v3 documents, word for word.

The reference pages list every error text the service answers with. They live here, once, so
that the error mapping of the client (which recognises them) and the sandbox (which answers with
them) cannot drift apart; a conformance test compares them with the pages themselves.
"""

from __future__ import annotations

from typing import Final

# 401, as JSON {"statusCode": 401, "message": ...}
INVALID_API_KEY: Final = (
    "Access denied due to invalid subscription key. "
    "Make sure to provide a valid key for an active subscription."
)
INVALID_TOKEN: Final = "Unauthorized. Access token is missing or invalid."

# 404, plain text
MANAGER_NOT_FOUND: Final = "Unable to find a manager for the given OAuth ID claim data."
PRODUCT_NOT_FOUND: Final = (
    "Unable to find a product for the given productId which is assigned to the given customerId."
)
PRODUCT_NOT_ASSIGNED: Final = (
    "No product can be found for this productId that is assigned to this customerId."
)
SERVICE_OF_PRODUCT_NOT_FOUND: Final = "No service can be found that is assigned to this productId."
CAR_OF_PRODUCT_NOT_FOUND: Final = "No car can be found that is assigned to this productId."
CAR_NOT_FOUND: Final = (
    "Unable to find a car for the given carId which is assigned to the given customerId."
)
CAR_NOT_ASSIGNED: Final = "No car can be found for this carId that is assigned to this customerId."
NO_PRODUCTS_ON_CAR: Final = "No products are assigned to this car."
GROUP_NOT_FOUND_BY_ID: Final = "Could not find the group with the given Id."
GROUP_NOT_FOUND: Final = "Could not find group with the given Id."
GROUP_NOT_ASSIGNED: Final = (
    "No group can be found for this groupId that is assigned to this customerId."
)
CAR_ID_NOT_FOUND: Final = "Could not find car with the given Id."
USER_ID_NOT_FOUND: Final = "Could not find user with the given Id."
SERVICE_ID_NOT_FOUND: Final = "Could not find service with the given Id."
PRODUCT_ID_NOT_FOUND: Final = "Could not find product with the given Id."
CAR_NOT_IN_GROUP: Final = (
    "The car with the given Id is not assigned to the group with the given Id."
)
USER_NOT_IN_GROUP: Final = (
    "The user with the given Id is not assigned to the group with the given Id."
)
SERVICE_NOT_IN_GROUP: Final = (
    "The service with the given Id is not assigned to the group with the given Id."
)
PRODUCT_NOT_IN_GROUP: Final = (
    "The product with the given Id is not assigned to the group with the given Id."
)

# 400, plain text
CAR_NAME_MISSING: Final = "Could not create car. No car name given."
CAR_NAME_BLANK: Final = "Could not update car. The car name must not be null, empty or white space."
INVALID_DATE_FORMAT: Final = "Invalid date format."
GROUP_NAME_MISSING: Final = "Could not create group. No group name given."
GROUP_NAME_BLANK: Final = "The group name must not be null, empty or white space."
GROUP_NAME_TOO_LONG: Final = "The group name must be of maximum length '250'."

# 409, plain text ("servie" is the service's own spelling, kept so that it is recognised)
GROUP_NAME_TAKEN: Final = "A group with the same name already exists."
CAR_ALREADY_IN_GROUP: Final = (
    "The car with the given Id is already assigned to the group with the given Id."
)
USER_ALREADY_IN_GROUP: Final = (
    "The user with the given Id is already assigned to the group with the given Id."
)
SERVICE_ALREADY_IN_GROUP: Final = (
    "The servie with the given Id is already assigned to the group with the given Id."
)
PRODUCT_ALREADY_IN_GROUP: Final = (
    "The product with the given Id is already assigned to the group with the given Id."
)
GROUP_HAS_RELATIONS: Final = (
    "Could not delete group because of existing relations. "
    "Please delete all relations to the group and try again."
)

# 415, RFC 7807 problem document
UNSUPPORTED_MEDIA_TYPE_TITLE: Final = "Unsupported Media Type"
UNSUPPORTED_MEDIA_TYPE_TYPE: Final = "https://tools.ietf.org/html/rfc7231#section-6.5.13"

# 500, plain text
INTERNAL_SERVER_ERROR: Final = "Internal server error."

MAX_GROUP_NAME_LENGTH: Final = 250
