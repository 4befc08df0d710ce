from tests.payments.factories import local_card

SAMPLES = {
    "card_remove": lambda tenant: {"pk": local_card(tenant).pk},
}
