// Card registration with Stripe Elements and a SetupIntent (the card never touches the portal).
(function () {
  // Strings come from the page's language catalogue (/jsi18n/, loaded before this script).
  const gettext = window.gettext || function (text) { return text; };
  const form = document.getElementById("card-form");
  const errors = document.getElementById("card-errors");
  const button = document.getElementById("card-submit");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  // Stripe's card field and its messages in the page's language (ja / en).
  const locale = document.documentElement.lang || "auto";
  const stripe = Stripe(JSON.parse(document.getElementById("stripe-key").textContent), {locale: locale});
  const card = stripe.elements({locale: locale}).create("card");
  card.mount("#card-element");
  function fail(message) {
    errors.textContent = message || gettext("The card could not be saved. Please try again.");
    button.disabled = false;
  }
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    errors.textContent = "";
    button.disabled = true;
    const body = new URLSearchParams({attempt: form.dataset.attempt});
    let secret;
    try {
      const response = await fetch(form.dataset.setupIntentUrl, {
        method: "POST", body: body, headers: {"X-CSRFToken": csrf}, credentials: "same-origin"});
      const data = await response.json();
      if (!response.ok) { return fail(data.error && data.error.message); }
      secret = data.client_secret;
    } catch (e) { return fail(gettext("The portal could not be reached. Please try again.")); }
    const result = await stripe.confirmCardSetup(secret, {payment_method: {card: card}});
    if (result.error) {
      const declined = result.error.code === "card_declined";
      return fail(declined ? gettext("Your card was declined. Please use a different card or contact your card issuer.")
                           : (result.error.message || gettext("The card could not be verified.")));
    }
    document.getElementById("setup-intent-id").value = result.setupIntent.id;
    form.submit();
  });
})();
