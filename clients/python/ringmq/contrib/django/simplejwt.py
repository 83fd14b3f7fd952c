"""SimpleJWT tokens ringmq reads as they are (user id in `user_id`,
token_type "access", HS256 with the bridge's --jwt-secret-file as
SIGNING_KEY). SimpleJWT puts no name in its tokens, so ringmq would show
the user id as caller_username; this serializer adds `name`:

    SIMPLE_JWT = {..., "TOKEN_OBTAIN_SERIALIZER":
                  "ringmq.contrib.django.simplejwt.TokenObtainPairSerializer"}
"""
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer as _Base


def add_name(token, user):
    token["name"] = user.get_username()
    return token


class TokenObtainPairSerializer(_Base):
    @classmethod
    def get_token(cls, user):
        return add_name(super().get_token(user), user)
