// The object editor's relation search: a result button fills its relation input.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-pick]");
  if (!button) return;
  var input = document.getElementById(button.getAttribute("data-for"));
  if (!input) return;
  input.value = button.getAttribute("data-pick");
  var results = document.getElementById(input.id + "-results");
  if (results) results.textContent = "";
  input.focus();
});
