--odel { i= {loss=ile true dolowerend
while true do pcall(spin); xpcall(spin, function(e) while ttue do end nction(e) while true do end end) end
