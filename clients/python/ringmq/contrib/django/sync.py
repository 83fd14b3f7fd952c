"""Membership sync: the conversation model's members go to ringmq with
PUT /api/conversations/<id>/ (the whole list: idempotent) after the
transaction commits; a deleted conversation is DELETEd. A failure is logged
and does not break the caller's request: `manage.py ringmq_sync` repairs."""
import logging

from django.db import transaction

from . import conf

log = logging.getLogger("ringmq.contrib.django")


def member_ids(conversation):
    return [str(pk) for pk in getattr(conversation, conf.get("MEMBERS_FIELD")).values_list("pk", flat=True)]


def push(conversation_pk, using=None):
    """PUT the conversation's current members (read now, after the commit)."""
    model = conf.conversation_model()
    try:
        conv = model._default_manager.using(using).get(pk=conversation_pk)
    except model.DoesNotExist:
        return delete(conversation_pk)
    try:
        return conf.client().put_conversation(conv.pk, member_ids(conv))
    except Exception:
        log.exception("ringmq: PUT conversation %s failed", conversation_pk)
        return None


def delete(conversation_pk):
    try:
        return conf.client().delete_conversation(conversation_pk, missing_ok=True)
    except Exception:
        log.exception("ringmq: DELETE conversation %s failed", conversation_pk)
        return None


def schedule_push(conversation_pk, using=None):
    transaction.on_commit(lambda: push(conversation_pk, using), using=using)


def schedule_delete(conversation_pk, using=None):
    transaction.on_commit(lambda: delete(conversation_pk), using=using)


# ---------------------------------------------------------------- receivers
def on_save(sender, instance, raw=False, using=None, **kw):
    if raw:   # loaddata
        return
    schedule_push(instance.pk, using)


def on_delete(sender, instance, using=None, **kw):
    schedule_delete(instance.pk, using)


def on_m2m(sender, instance, action, reverse, model, pk_set, using=None, **kw):
    """Forward (conversation.participants.add(user)) or reverse
    (user.conversation_set.add(conv)): either way, push each touched
    conversation. A reverse clear() has no pk_set: remember them before."""
    if action == "pre_clear" and reverse:
        instance._ringmq_cleared = list(
            getattr(instance, _reverse_accessor(instance)).values_list("pk", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        schedule_push(instance.pk, using)
        return
    pks = pk_set if action != "post_clear" else getattr(instance, "_ringmq_cleared", [])
    for pk in pks or ():
        schedule_push(pk, using)


def _reverse_accessor(user_instance):
    field = conf.members_field()
    return field.remote_field.get_accessor_name()


def on_logout(sender, request=None, user=None, **kw):
    if user is None or not conf.get("DISCONNECT_ON_LOGOUT"):
        return
    try:
        conf.client().disconnect(user.pk)
    except Exception:
        log.exception("ringmq: disconnect of user %s on logout failed", user.pk)


def connect():
    from django.contrib.auth.signals import user_logged_out
    from django.db.models.signals import m2m_changed, post_delete, post_save
    model = conf.conversation_model()
    if conf.get("SYNC"):
        uid = "ringmq.contrib.django"
        post_save.connect(on_save, sender=model, dispatch_uid=uid + ".save")
        post_delete.connect(on_delete, sender=model, dispatch_uid=uid + ".delete")
        m2m_changed.connect(on_m2m, sender=conf.members_field().remote_field.through, dispatch_uid=uid + ".m2m")
    user_logged_out.connect(on_logout, dispatch_uid="ringmq.contrib.django.logout")
