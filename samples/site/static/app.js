// The demo shop's front end (a stand-in asset so the sample has a static file in it).
document.addEventListener("DOMContentLoaded", () => {
  fetch("/api/items").then((r) => r.json()).then((items) => {
    for (const item of items) console.log(item.name, item.price);
  });
});
