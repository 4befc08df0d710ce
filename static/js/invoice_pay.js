// Finish an authentication-required (3-D Secure) payment with Stripe.js, then let the portal check the result.
(function () {
  const form = document.getElementById("pay-form");
  if (!form) { return; }
  const gettext = window.gettext || function (text) { return text; };  // the page's language (/jsi18n/)
  const errors = document.getElementById("pay-errors");
  const button = document.getElementById("pay-submit");
  const stripe = Stripe(JSON.parse(document.getElementById("stripe-key").textContent),
                        {locale: document.documentElement.lang || "auto"});  // Stripe's messages in the page's language
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    errors.textContent = "";
    button.disabled = true;
    const result = await stripe.confirmCardPayment(form.dataset.clientSecret);
    if (result.error) {
      errors.textContent = result.error.message || gettext("The payment could not be confirmed.");
      button.disabled = false;
      return;
    }
    form.submit();
  });
})();
