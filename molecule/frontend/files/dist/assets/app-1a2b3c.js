// frontend-fixture-asset: a stand-in for a hashed Vite chunk.
document.getElementById("app").textContent = "frontend-fixture-asset";
